"""Kernel confinement of the student process, applied between fork and exec (Linux).

Standard library only: the warden imports this module before anything else.
Each mechanism is probed first (:func:`available`) and then applied by
:func:`apply` in the child, in this order (later steps need the earlier ones):

0. a new network namespace, when running as root: no interface but a
   loopback that is down, and abstract Unix sockets of its own (what
   Landlock ABI 6 scopes do on newer kernels);
1. resource limits (``setrlimit``): address space, file size, processes,
   open files, CPU seconds, no core dumps;
2. a separate unprivileged uid/gid, when running as root and it was asked for;
3. capabilities: all dropped, and ``SECBIT_NOROOT`` so that uid 0 regains
   none at ``exec`` (root without a separate uid);
4. ``PR_SET_NO_NEW_PRIVS`` (setuid binaries gain nothing; needed by 5 and 6);
5. Landlock: read-only paths, one writable scratch folder, no TCP bind or
   connect (ABI >= 4), no signals to and no abstract Unix sockets of
   processes outside the sandbox (ABI >= 6); ptrace of outside processes is
   always refused by Landlock;
6. seccomp: a default-deny BPF filter over the table of
   :mod:`autograder.runner.syscalls` (Unix sockets only, no io_uring, no
   ptrace, no namespaces...); a call outside the table is handed to the
   warden through a listener descriptor (Linux 5.0+), which names it and
   stops the process, or else kills the process (``SIGSYS``).

The ``ctypes`` calls are the kernel's documented interfaces (``landlock(7)``,
``seccomp(2)``, ``capabilities(7)``); no maintained Python binding covers
Landlock's network and scope rules, and the seccomp filter needs no library.
"""
from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

from autograder.runner import syscalls

LINUX = platform.system() == "Linux"

# -- Landlock (include/uapi/linux/landlock.h) -------------------------------------------------
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_REMOVE_DIR, FS_REMOVE_FILE, FS_MAKE_CHAR, FS_MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
FS_MAKE_REG, FS_MAKE_SOCK, FS_MAKE_FIFO, FS_MAKE_BLOCK = 1 << 8, 1 << 9, 1 << 10, 1 << 11
FS_MAKE_SYM, FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 12, 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV


def _fs_rights(abi: int) -> int:
    """Every filesystem right the kernel's Landlock ABI knows (all of them are handled, i.e. denied by default)."""
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


READ = FS_READ_FILE | FS_READ_DIR
READ_EXEC = READ | FS_EXECUTE
WRITE = (READ | FS_WRITE_FILE | FS_REMOVE_DIR | FS_REMOVE_FILE | FS_MAKE_DIR | FS_MAKE_REG | FS_MAKE_SYM
         | FS_MAKE_FIFO | FS_MAKE_SOCK | FS_REFER | FS_TRUNCATE)

# -- prctl, capabilities ------------------------------------------------------------------------
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 1, 4, 24
PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER, PR_CAP_AMBIENT = 28, 38, 36, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECBIT_NOROOT, SECBIT_NOROOT_LOCKED = 1 << 0, 1 << 1
SECBIT_NO_SETUID_FIXUP, SECBIT_NO_SETUID_FIXUP_LOCKED = 1 << 2, 1 << 3
SECBIT_KEEP_CAPS_LOCKED, SECBIT_NO_CAP_AMBIENT_RAISE, SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED = 1 << 5, 1 << 6, 1 << 7
LINUX_CAPABILITY_VERSION_3 = 0x20080522

# -- seccomp ----------------------------------------------------------------------------------
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SECCOMP_SET_MODE_FILTER, SECCOMP_GET_NOTIF_SIZES = 1, 3
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_USER_NOTIF = 0x80000000, 0x7FC00000
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
# struct seccomp_notif: id, pid, flags, then struct seccomp_data: nr, arch, instruction pointer, args[6]
NOTIF = struct.Struct("=QIIiIQ6Q")
NOTIF_SIZES = struct.Struct("=HHH")
SECCOMP_IOCTL_NOTIF_RECV = (3 << 30) | (NOTIF.size << 16) | (ord("!") << 8) | 0  # _IOWR('!', 0, seccomp_notif)
AF_UNIX = 1
CLONE_NEW_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET (and NEWTIME 0x80)
X32_SYSCALL_BIT = 0x40000000

_libc = None


class ConfinementError(OSError):
    """A mechanism that was probed as available could not be applied."""


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise ConfinementError(err, f"{what}: {os.strerror(err)}")
    return result


def prctl(option: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0, what: str = "prctl") -> int:
    lib = _lib()
    lib.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return _check(lib.prctl(option, a2, a3, a4, a5), what)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is missing or disabled."""
    if not LINUX or platform.machine() not in AUDIT_ARCH:
        return 0
    try:
        lib = _lib()
        lib.syscall.restype = ctypes.c_long
        abi = lib.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
                          ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(int(abi), 0)


def seccomp_available() -> bool:
    """Whether this kernel and architecture take the seccomp filter below."""
    if not LINUX or platform.machine() not in AUDIT_ARCH:
        return False
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return any(line.startswith("Seccomp:") for line in status)
    except OSError:
        return False


def available() -> dict:
    """What this machine offers: {"landlock": abi, "seccomp": bool, "notify": bool, "root": bool, "linux": bool}."""
    return {"linux": LINUX, "landlock": landlock_abi(), "seccomp": seccomp_available(),
            "notify": notify_available(), "root": LINUX and os.geteuid() == 0, "subreaper": LINUX}


CLONE_NEWNET = 0x40000000


def network_namespace_available() -> bool:
    """Whether a process may get a network namespace of its own here (tried in a child that exits)."""
    if not LINUX or os.geteuid() != 0:
        return False
    pid = os.fork()
    if pid == 0:
        try:
            new_network_namespace()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def new_network_namespace() -> None:
    """Move the calling process into a network namespace of its own (needs CAP_SYS_ADMIN: root)."""
    lib = _lib()
    lib.unshare.argtypes = [ctypes.c_int]
    _check(lib.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")


# -- application (in the child, between fork and exec) -----------------------------------------
def set_limits(limits: dict) -> None:
    """``limits``: resource name (``"RLIMIT_AS"``...) -> value; soft = hard, so student code cannot raise them."""
    import resource
    for name, value in limits.items():
        number = getattr(resource, name, None)
        if number is None:
            continue
        try:
            resource.setrlimit(number, (value, value))
        except (ValueError, OSError) as exc:
            if name != "RLIMIT_AS":  # some platforms refuse AS limits; the others must hold
                raise ConfinementError(errno.EPERM, f"setrlimit({name}): {exc}") from None


def drop_privileges(uid: int | None, gid: int | None) -> None:
    """Become ``uid``/``gid`` if given (root only), then drop every capability for good."""
    if not LINUX:
        return
    if os.geteuid() == 0:
        prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP
              | SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE
              | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED, what="securebits")
        if gid is not None:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
        if uid is not None:
            os.setresuid(uid, uid, uid)
    try:
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, what="clear ambient capabilities")
    except ConfinementError:
        pass
    cap = 0
    while True:  # the bounding set: no capability can come back, whatever is executed
        try:
            prctl(PR_CAPBSET_DROP, cap, what="capbset")
        except ConfinementError as exc:
            if exc.errno == errno.EINVAL:
                break  # past the last capability this kernel knows
            if exc.errno == errno.EPERM:
                break  # not privileged: nothing to drop
            raise
        cap += 1
    header = struct.pack("Ii", LINUX_CAPABILITY_VERSION_3, 0)
    data = bytes(24)  # effective, permitted, inheritable = 0, twice (64-bit sets)
    lib = _lib()
    _check(lib.capset(ctypes.c_char_p(header), ctypes.c_char_p(data)), "capset")
    prctl(PR_SET_DUMPABLE, 0, what="dumpable")


def landlock(abi: int, read_exec: list[str], read: list[str], write: list[str], read_files: list[str],
             listed: list[str] = (), devices: list[str] = ()) -> None:
    """Restrict the calling thread (and everything it execs or forks) to the given paths.

    ``read_exec`` may be read and executed, ``read`` only read, ``write``
    read and written; ``read_files`` are single files that may be read;
    ``listed`` directories may only be listed; ``devices`` are device files
    that may be read, written and controlled (a GPU's). Paths that do not exist are
    skipped. No TCP bind or connect (ABI >= 4); no signals or abstract Unix
    sockets outside the sandbox (ABI >= 6).
    """
    lib = _lib()
    lib.syscall.restype = ctypes.c_long
    handled_fs = _fs_rights(abi)
    handled_net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    if abi >= 6:
        attr = struct.pack("QQQ", handled_fs, handled_net, scoped)
    elif abi >= 4:
        attr = struct.pack("QQ", handled_fs, handled_net)
    else:
        attr = struct.pack("Q", handled_fs)
    ruleset = _check(lib.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), ctypes.c_char_p(attr),
                                 ctypes.c_size_t(len(attr)), ctypes.c_uint32(0)), "landlock_create_ruleset")
    try:
        for paths, rights in ((read_exec, READ_EXEC), (read, READ), (write, WRITE), (read_files, FS_READ_FILE),
                              (listed, FS_READ_DIR), (devices, FS_READ_FILE | FS_WRITE_FILE | FS_IOCTL_DEV)):
            for path in paths:
                _add_path_rule(lib, ruleset, path, rights & handled_fs)
        prctl(PR_SET_NO_NEW_PRIVS, 1, what="no_new_privs")
        _check(lib.syscall(ctypes.c_long(SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(0)),
               "landlock_restrict_self")
    finally:
        os.close(ruleset)


def _add_path_rule(lib, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path this machine does not have
    try:
        if not os.path.isdir(path):
            rights &= FILE_RIGHTS
        if not rights:
            return
        rule = struct.pack("=Qi", rights, fd)  # struct landlock_path_beneath_attr is packed
        _check(lib.syscall(ctypes.c_long(SYS_LANDLOCK_ADD_RULE), ctypes.c_int(ruleset),
                           ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH), ctypes.c_char_p(rule), ctypes.c_uint32(0)),
               f"landlock_add_rule({path})")
    finally:
        os.close(fd)


def _bpf(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def seccomp_filter(machine: str | None = None, notify: bool = True) -> bytes:
    """The default-deny BPF program of :mod:`syscalls`: the allowed calls run (socket, socketpair and clone
    after a check of their first argument), the refused ones fail with their errno, and any other call is
    handed to the warden (``notify``, which names it and stops the process) or kills the process."""
    machine = machine or platform.machine()
    LD_W_ABS, JEQ, JSET, JGE, RET = 0x20, 0x15, 0x45, 0x35, 0x06
    ARCH, NR, ARG0 = 4, 0, 16  # offsets in struct seccomp_data (ARG0: low 32 bits of args[0])
    eperm, allow = SECCOMP_RET_ERRNO | errno.EPERM, SECCOMP_RET_ALLOW
    prog = [_bpf(LD_W_ABS, 0, 0, ARCH), _bpf(JEQ, 1, 0, AUDIT_ARCH[machine]),
            _bpf(RET, 0, 0, SECCOMP_RET_KILL_PROCESS),  # another ABI (32-bit entry points)
            _bpf(LD_W_ABS, 0, 0, NR)]
    if machine == "x86_64":
        prog += [_bpf(JGE, 0, 1, X32_SYSCALL_BIT), _bpf(RET, 0, 0, SECCOMP_RET_KILL_PROCESS)]
    for name in ("socket", "socketpair"):  # the Unix domain only
        prog += [_bpf(JEQ, 0, 4, syscalls.number(name, machine)),
                 _bpf(LD_W_ABS, 0, 0, ARG0), _bpf(JEQ, 0, 1, AF_UNIX), _bpf(RET, 0, 0, allow),
                 _bpf(RET, 0, 0, SECCOMP_RET_ERRNO | errno.EAFNOSUPPORT)]
    prog += [_bpf(JEQ, 0, 4, syscalls.number("clone", machine)),  # clone: flags in args[0], no new namespaces
             _bpf(LD_W_ABS, 0, 0, ARG0), _bpf(JSET, 0, 1, CLONE_NEW_FLAGS), _bpf(RET, 0, 0, eperm),
             _bpf(RET, 0, 0, allow)]
    for name in syscalls.allowed_names():
        number = syscalls.number(name, machine)
        if number is not None:
            prog += [_bpf(JEQ, 0, 1, number), _bpf(RET, 0, 0, allow)]
    for name, error in sorted(syscalls.REFUSED.items()):
        number = syscalls.number(name, machine)
        if number is not None:
            prog += [_bpf(JEQ, 0, 1, number), _bpf(RET, 0, 0, SECCOMP_RET_ERRNO | getattr(errno, error))]
    prog.append(_bpf(RET, 0, 0, SECCOMP_RET_USER_NOTIF if notify else SECCOMP_RET_KILL_PROCESS))
    return b"".join(prog)


def notify_available() -> bool:
    """Whether the kernel hands filtered calls to a listener (Linux 5.0+) with the structures above."""
    if not seccomp_available():
        return False
    lib = _lib()
    lib.syscall.restype = ctypes.c_long
    sizes = ctypes.create_string_buffer(NOTIF_SIZES.size)
    if lib.syscall(ctypes.c_long(SYS_SECCOMP[platform.machine()]), ctypes.c_uint(SECCOMP_GET_NOTIF_SIZES),
                   ctypes.c_uint(0), sizes) != 0:
        return False
    notif, _resp, data = NOTIF_SIZES.unpack(sizes.raw)
    return notif == NOTIF.size and data == 64


def seccomp(listener_socket: int | None = None) -> None:
    """Install :func:`seccomp_filter` on the calling thread (needs no_new_privs). With ``listener_socket``
    (a Unix socket to the warden), calls outside the table go to a listener descriptor that is sent over it
    and closed here, so that only the warden can answer them."""
    program = seccomp_filter(notify=listener_socket is not None)
    count = len(program) // 8
    buffer = ctypes.create_string_buffer(program)
    fprog = struct.pack("HxxxxxxP", count, ctypes.addressof(buffer))  # struct sock_fprog
    prctl(PR_SET_NO_NEW_PRIVS, 1, what="no_new_privs")
    lib = _lib()
    if listener_socket is None:
        lib.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_ulong]
        _check(lib.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fprog, 0, 0), "seccomp")
        lib.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        return
    import socket
    lib.syscall.restype = ctypes.c_long
    listener = _check(lib.syscall(ctypes.c_long(SYS_SECCOMP[platform.machine()]),
                                  ctypes.c_uint(SECCOMP_SET_MODE_FILTER),
                                  ctypes.c_uint(SECCOMP_FILTER_FLAG_NEW_LISTENER), ctypes.c_char_p(fprog)),
                      "seccomp")
    channel = socket.socket(fileno=listener_socket)
    try:
        socket.send_fds(channel, [b"L"], [listener])
    finally:
        channel.detach()
        os.close(listener)


def receive_listener(sock) -> int | None:
    """The listener descriptor the student process sent (warden side), or None if none came."""
    import socket
    try:
        _, fds, _, _ = socket.recv_fds(sock, 16, 1)
    except (BlockingIOError, OSError):
        return None
    return fds[0] if fds else None


def next_refused_call(listener: int) -> int | None:
    """The number of the system call a student process is waiting on (warden side), None if it is gone."""
    import fcntl
    buffer = bytearray(NOTIF.size)
    try:
        fcntl.ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, buffer, True)
    except OSError:
        return None
    return NOTIF.unpack(buffer)[3]


