"""Student processes forked from a process that has already imported their libraries.

Importing PyTorch takes about 2 s of CPU, and every grading starts at least one student process (a crash or
a hang costs a fresh one). A *zygote* is a process of its own, started once per grading process and set of
libraries, that imports them (``preload``) and then only forks on request. Each request carries the
student process's configuration and descriptors (:class:`autograder.runner.channel.StudentProcess`); the zygote
forks a warden (:func:`autograder.runner.warden.main`), which forks the student process, confines it exactly as
before ``exec`` and runs :mod:`autograder.sandbox.worker` in it instead of executing a new interpreter.

What a student process inherits from the zygote is an interpreter that imported the standard library, NumPy and
PyTorch and nothing else: the zygote is started by ``exec`` from a clean environment, never forked from the
grading process, so no grader, oracle, solution or result was ever in its memory. The student process gets the
environment, working folder, descriptors, limits, uid, Landlock rules and seccomp filter a started one gets,
fresh random state (NumPy's and Python's), and none of this engine's modules (they are dropped from
``sys.modules`` and ``sys.path``); it holds no descriptor of the zygote or of its warden. Every student process is
forked from the pristine zygote, never from another student process, so nothing passes between students. The
zygote is not used without confinement (``isolation.level == "none"``): an unconfined student process could
write into the zygote's memory, which later student processes would inherit.

``AUTOGRADER_ZYGOTE=0`` starts every student process with ``exec``, as where ``fork`` is missing (not Linux).
"""
from __future__ import annotations

import errno
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

VARIABLE = "AUTOGRADER_ZYGOTE"
BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
        "from autograder.runner import zygote; zygote.serve(int(sys.argv[2]), sys.argv[3])")
ENGINE_PREFIX = "autograder"
MESSAGE_BYTES = 1 << 20
FDS = ("report_fd", "command_fd", "out_fd", "request_fd", "reply_fd", "status_fd")  # the order they travel in


def enabled() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork") and os.environ.get(VARIABLE, "1") != "0"


# -- the trusted side ------------------------------------------------------------------------------------------
class ZygoteUnavailable(OSError):
    """The zygote could not be started or reached: start the student process with ``exec`` instead."""


def key_of(executable: str, package_parent: str, preload: list[str], env: dict) -> tuple:
    """What tells zygotes apart: what a student process forked from one would otherwise differ in."""
    return executable, package_parent, tuple(preload), tuple(sorted(env.items()))


class Zygote:
    """One zygote process (libraries ``preload``, environment ``env``) and the socket to it.

    The socket may be handed to other grading processes (:func:`adopt`: the workers of a batch share their
    parent's zygote); each request is one datagram, so requests from several processes never mix."""

    def __init__(self, executable: str, package_parent: str, preload: list[str], env: dict):
        self.owner = os.getpid()
        self.lock = threading.Lock()
        self.key, self.broken = key_of(executable, package_parent, preload, env), False
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = subprocess.Popen(
                [executable, "-s", "-P", "-c", BOOT, package_parent, str(theirs.fileno()), ",".join(preload)],
                env=env, cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),), close_fds=True, start_new_session=True)
        except OSError as exc:
            ours.close()
            raise ZygoteUnavailable(exc.errno or errno.EIO, f"the zygote could not be started: {exc}") from None
        finally:
            theirs.close()
        self.socket = ours

    @classmethod
    def adopted(cls, key: tuple, channel: socket.socket) -> "Zygote":
        """Another process's zygote, reached through ``channel``."""
        zygote = cls.__new__(cls)
        zygote.owner, zygote.lock, zygote.key, zygote.broken = os.getpid(), threading.Lock(), key, False
        zygote.process, zygote.socket = None, channel
        return zygote

    @property
    def alive(self) -> bool:
        return (self.owner == os.getpid() and not self.broken
                and (self.process is None or self.process.poll() is None))

    def spawn(self, config: dict, fds: dict[str, int]) -> None:
        """Ask for a warden with ``config`` (its descriptors in ``fds``, by the names of FDS); what became of it
        comes on ``fds["status_fd"]`` (see :class:`ForkedWarden`)."""
        message = json.dumps(config).encode()
        if len(message) > MESSAGE_BYTES:
            raise ZygoteUnavailable(errno.E2BIG, "the configuration is too large for the zygote")
        with self.lock:
            if not self.alive:
                raise ZygoteUnavailable(errno.ESRCH, "the zygote is not running")
            try:
                socket.send_fds(self.socket, [message], [fds[name] for name in FDS])
            except OSError as exc:
                self.broken = True
                raise ZygoteUnavailable(exc.errno or errno.EIO, f"the zygote cannot be reached: {exc}") from None

    def close(self) -> None:
        """Close this process's socket; a zygote this process started ends (once no other process holds the
        socket) and is waited for."""
        self.socket.close()
        if self.process is None:
            return
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_zygotes: dict[tuple, Zygote] = {}
_zygotes_lock = threading.Lock()


def zygote_for(executable: str, package_parent: str, preload: list[str], env: dict) -> Zygote:
    """The running zygote of this process for these libraries and environment (started if needed)."""
    key = key_of(executable, package_parent, preload, env)
    with _zygotes_lock:
        zygote = _zygotes.get(key)
        if zygote is None or not zygote.alive:
            if zygote is not None and zygote.owner == os.getpid():
                zygote.close()
            zygote = _zygotes[key] = Zygote(executable, package_parent, preload, env)
        return zygote


def adopt(key: tuple, channel: socket.socket) -> None:
    """Use the zygote of another process, reached through ``channel`` (a socket it handed over), for ``key``."""
    with _zygotes_lock:
        _zygotes[key] = Zygote.adopted(key, channel)


def close_all() -> None:
    """End this process's zygotes (at exit they end by themselves: their sockets close)."""
    with _zygotes_lock:
        for zygote in _zygotes.values():
            if zygote.owner == os.getpid():
                zygote.close()
        _zygotes.clear()


class ForkedWarden:
    """The trusted side's view of a warden forked by a zygote: what ``subprocess.Popen`` offers of a child.

    The zygote writes ``pid <n>`` on the status pipe once it has forked the warden and ``exit <code>`` when it
    has reaped it (a negative code for a signal, as Popen says it), then closes it. Nothing here waits on the
    zygote without a bound: a zygote that stopped answering costs a startup failure, never a hung grading."""

    PID_SECONDS = 30  # how long the pid may take to come (the zygote's first request waits for its imports)

    def __init__(self, status_fd: int):
        self.status_fd = status_fd
        self._pid: int | None = None
        self.returncode: int | None = None
        self._buffer = b""
        self._closed = False

    def _read(self, timeout: float | None) -> None:
        """Read what the status pipe holds, waiting up to ``timeout`` seconds for something."""
        if self._closed:
            return
        if not select.select([self.status_fd], [], [], timeout)[0]:
            return
        try:
            data = os.read(self.status_fd, 4096)
        except OSError:
            data = b""
        if not data:
            self._close(-signal.SIGKILL)  # the zygote ended before it could say
            return
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            word, _, value = line.decode("ascii", "replace").partition(" ")
            if word == "pid" and value.strip().lstrip("-").isdigit():
                self._pid = int(value)
            elif word == "exit" and value.strip().lstrip("-").isdigit():
                self.returncode = int(value)

    def _close(self, returncode: int) -> None:
        if not self._closed:
            self._closed = True
            os.close(self.status_fd)
        if self.returncode is None:
            self.returncode = returncode

    @property
    def pid(self) -> int:
        """The warden's pid (0 if the zygote ended, or did not say within PID_SECONDS, before forking it)."""
        deadline = time.monotonic() + self.PID_SECONDS
        while self._pid is None and not self._closed and time.monotonic() < deadline:
            self._read(max(deadline - time.monotonic(), 0))
        return self._pid or 0

    def poll(self) -> int | None:
        while not self._closed and select.select([self.status_fd], [], [], 0)[0]:
            self._read(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired("warden", timeout)
            self._read(left)
        return self.returncode

    def kill(self) -> None:
        """SIGKILL the warden; it is over then, whether or not the zygote gets to say so (a stopped zygote
        never would). A warden never forked has nothing to kill: its command pipe, closed, would end it."""
        if self.poll() is None:
            if self.pid:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except OSError:
                    pass
            self._close(-signal.SIGKILL)


# -- the zygote --------------------------------------------------------------------------------------------------
def serve(socket_fd: int, preload: str) -> None:
    """The zygote's life: import ``preload`` (comma-separated), then fork a warden for every request until the
    socket closes."""
    import importlib
    from autograder.runner import warden  # noqa: F401 (every forked warden needs it)
    sys.path.pop(0)  # the engine's folder (BOOT put it first): the path is now a started student process's
    # No death signal: it would come when the thread that started this process ends, not the process. The
    # socket closes when the grading process ends, however it ends, and so does this loop.
    for library in filter(None, preload.split(",")):
        try:
            importlib.import_module(library)
        except ImportError:
            pass
    # A library that started a thread makes this process unsafe to fork (the copy has none of the other
    # threads, whose locks may be held): its wardens then start student processes with exec, as without it.
    forkable = len(os.listdir("/proc/self/task")) == 1
    channel = socket.socket(fileno=socket_fd)
    wardens: dict[int, tuple[int, int | None]] = {}  # pid -> (status descriptor, pidfd: readable once it ends)
    while True:
        pidfds = [pidfd for _, pidfd in wardens.values() if pidfd is not None]
        polled = len(pidfds) < len(wardens)  # without a pidfd, a warden's end is polled for
        try:
            ready = select.select([channel, *pidfds], [], [], 0.05 if polled else None)[0]
        except InterruptedError:
            ready = []
        _reap(wardens)
        if channel not in ready:
            continue
        try:
            message, fds, _, _ = socket.recv_fds(channel, MESSAGE_BYTES, len(FDS))
        except OSError:
            break
        if not message:
            break
        if len(fds) != len(FDS):
            for fd in fds:
                os.close(fd)
            continue
        received = dict(zip(FDS, fds))
        try:
            config = json.loads(message)
        except ValueError:
            config = None
        try:
            pid = os.fork() if isinstance(config, dict) else -1
        except OSError:  # no process to be had now: this warden's status pipe closes unsaid, a startup failure
            pid = -1
        if pid == 0:
            _warden(channel, config, received, forkable)  # never returns
        for name, fd in received.items():
            if name != "status_fd":
                os.close(fd)
        if pid < 0:
            os.close(received["status_fd"])
            continue
        _say(received["status_fd"], f"pid {pid}")
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        wardens[pid] = (received["status_fd"], pidfd)
    for pid in list(wardens):  # the trusted side is gone: each warden ends its student process
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass


def _close_all_but(kept: set[int]) -> None:
    """Close every descriptor of this process but ``kept``."""
    for name in os.listdir("/proc/self/fd"):
        if int(name) not in kept:
            try:
                os.close(int(name))
            except OSError:
                pass


def _say(fd: int, line: str) -> None:
    try:
        os.write(fd, (line + "\n").encode())
    except OSError:
        pass


def _reap(wardens: dict[int, tuple[int, int | None]]) -> None:
    """Tell the trusted side how each warden that ended did, and forget it."""
    for pid in list(wardens):
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done, status = pid, 0
        if done:
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            fd, pidfd = wardens.pop(pid)
            _say(fd, f"exit {code}")
            for descriptor in (fd, pidfd):
                if descriptor is not None:
                    os.close(descriptor)


def _warden(channel: socket.socket, config: dict, fds: dict[str, int], forkable: bool) -> None:
    """In the forked warden: keep only its own descriptors (not the zygote's socket, nor what the zygote keeps
    of other wardens), then guard a forked student process."""
    code = 1
    try:
        channel.detach()
        os.close(fds.pop("status_fd"))
        _close_all_but({0, 1, 2, *fds.values()})
        config["report_fd"], config["command_fd"] = fds["report_fd"], fds["command_fd"]
        worker = config["worker"]
        worker["out_fd"], worker["pass_fds"] = fds["out_fd"], [fds["request_fd"], fds["reply_fd"]]
        worker["argv"][-5:-3] = [str(fds["request_fd"]), str(fds["reply_fd"])]  # as numbered here
        from autograder.runner import warden
        warden.main(config, fork_worker=_fork_worker if forkable else None)
        code = 0
    except BaseException:
        pass
    finally:
        os._exit(code)


def _fork_worker(worker: dict, prepare, keep: list[int]) -> int:
    """Fork the student process from this warden: descriptors, folder and environment as ``exec`` would have
    set them, then ``prepare`` (the confinement), then the worker loop. Returns the child's pid once the child is
    confined or has ended, as ``subprocess.Popen`` returns once its child has executed the new program."""
    confined_r, confined_w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(confined_w)
        while os.read(confined_r, 1):  # end of file: the child closed it (confined) or ended
            pass
        os.close(confined_r)
        return pid
    code = 1
    try:
        os.close(confined_r)
        keep = [*keep, confined_w]
        request_fd, reply_fd = worker["pass_fds"]
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(worker["out_fd"], 1)
        os.dup2(worker["out_fd"], 2)
        _close_all_but({0, 1, 2, request_fd, reply_fd, *keep})
        os.chdir(worker["cwd"])
        os.environ.clear()
        os.environ.update(worker["env"])
        prepare()  # default signal dispositions, then the confinement; on failure it reports why and ends here
        from autograder.runner import warden
        warden.interpreter_signals()  # as the interpreter an exec starts sets them
        for fd in keep:
            os.close(fd)
        boot = worker["boot"]
        _forget_the_engine()
        sys.path.insert(0, boot["runtime"])
        from sandbox import worker as student_worker
        main = vars(sys.modules["__main__"])  # the zygote's command's names, replaced by a started worker's
        for name in [n for n in main if not n.startswith("__")]:
            del main[name]
        main.update(sys=sys, worker=student_worker)
        sys.argv = ["student"]
        student_worker.main([str(request_fd), str(reply_fd), *boot["args"]])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(code)


def _forget_the_engine() -> None:
    """What the zygote imported of this engine leaves the student process; its random state is made fresh."""
    import tempfile
    for name in [n for n in sys.modules if n == ENGINE_PREFIX or n.startswith(ENGINE_PREFIX + ".")]:
        del sys.modules[name]
    tempfile.tempdir = None  # TMPDIR is the scratch folder now
    numpy_random = sys.modules.get("numpy.random")  # where the zygote's libraries created NumPy's generator
    if numpy_random is not None:
        numpy_random.seed()
    import random
    random.seed()
