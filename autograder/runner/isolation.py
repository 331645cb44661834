"""How confined the student process can be on this machine, and what it may touch.

Levels are defined by what they guarantee, whatever mechanism gives it:

=========  ===============================================================  ==============================
guarantee  what the student process cannot do                               mechanisms, best first
=========  ===============================================================  ==============================
files      read anything but the Python installation, its submission and    Landlock (any ABI, Linux 5.13+)
           the sandbox runtime (never this engine's trusted code, the
           course repository, data or other submissions); write anywhere
           but its scratch folder
signals    signal or trace the grader or any process outside the sandbox    Landlock ABI 6 scopes (6.12+),
                                                                            or a separate unprivileged user
                                                                            (root: AUTOGRADER_STUDENT_USER);
                                                                            ptrace is refused by seccomp too
network    open any socket but Unix ones (TCP, UDP, raw, netlink, by any    seccomp allow-list (no io_uring),
           route, io_uring included), reach an abstract Unix socket of      and Landlock ABI 6 scopes or a
           the machine                                                      network namespace (root)
tree       outlive the grading, or use more than its processes, memory     subreaper warden; cgroup pids,
           and CPU: every process and thread counts, all together           memory, cpu and freezer (root),
                                                                            else RLIMIT_NPROC, the warden's
                                                                            memory sampler and /proc
=========  ===============================================================  ==============================

- ``full``: all four.
- ``partial``: Linux, but some guarantee has no mechanism here (``missing`` says which, and what would
  give it): a separate process with limits, no capabilities and the warden, with the rules this machine has.
- ``none``: another operating system (a student's laptop): a separate process with resource limits.

Whatever the level, results and verdicts never leave the trusted process: the level only says how much
the student process can see and do. ``AUTOGRADER_ISOLATION`` (partial, none) and ``AUTOGRADER_LANDLOCK_ABI``
(a number) make this machine offer less, to test what older kernels give.
"""
from __future__ import annotations

import os
import pwd
import site
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from autograder import course
from autograder.feedback import T, current_language
from autograder.runner import cgroups, confine

LEVELS = ("none", "partial", "full")
LEVEL_WORDS = {"none": T("none", "ninguno"), "partial": T("partial", "parcial"), "full": T("full", "completo")}
FULL_LANDLOCK_ABI = 6
CAP_VARIABLE = "AUTOGRADER_ISOLATION"  # "partial" or "none": pretend this machine offers no more (for tests)
LANDLOCK_VARIABLE = "AUTOGRADER_LANDLOCK_ABI"  # use at most this Landlock ABI (what an older kernel offers)
GUARANTEES = ("files", "signals", "network", "tree")
GUARANTEE_WORDS = {"files": T("files", "archivos"), "signals": T("signals", "señales"), "network": T("network", "red"),
                   "tree": T("tree", "árbol de procesos")}
CGROUP_WORDS = {"processes": T("processes", "procesos"), "memory": T("memory", "memoria"), "cpu": T("cpu", "cpu"),
                "freeze": T("freeze", "congelación")}
USER_VARIABLE = "AUTOGRADER_STUDENT_USER"  # when grading as root: the unprivileged user student code runs as

SYSTEM_READ_EXEC = ["/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib", "/usr/bin", "/bin",
                    "/usr/local/bin", "/usr/libexec"]
SYSTEM_READ = ["/sys/devices/system/cpu", "/usr/share/zoneinfo", "/proc/self"]
SYSTEM_FILES = ["/dev/urandom", "/dev/random", "/dev/zero", "/etc/ld.so.cache", "/etc/ld.so.conf",
                "/etc/localtime", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group", "/etc/os-release",
                "/proc/cpuinfo", "/proc/meminfo"]
SYSTEM_WRITE = ["/dev/null"]
# On a machine with an NVIDIA GPU, CUDA in the student process opens these device files (read, write, ioctl)
# and reads the driver's and the PCI bus's description. Nowhere else is anything of them granted.
GPU_DEVICE_GLOB = "/dev/nvidia*"
GPU_READ = ["/proc/driver/nvidia", "/sys/bus/pci/devices", "/sys/devices"]
# The only files of this engine's package that student code may read: what ``from autograder.backbones import
# load_backbone`` (A6) imports. Public loaders, shipped with every release, holding no grader, oracle, threshold
# or data; the package folder may be listed (names only, as ``stat`` already reveals) so that the import finds them.
STUDENT_MODULES = ["__init__.py", "course.py", "backbones.py"]


def gpu_devices() -> list[str]:
    """The NVIDIA device files of this machine (none without a GPU)."""
    import glob
    return sorted(glob.glob(GPU_DEVICE_GLOB))


class IsolationError(Exception):
    """The machine cannot confine the student process as much as was required."""


@dataclass
class Isolation:
    level: str
    mechanisms: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    landlock_abi: int = 0
    seccomp: bool = False
    seccomp_listener: bool = False  # calls outside the allow-list are named by the warden (else SIGSYS)
    network_namespace: bool = False
    drop_privileges: bool = False
    uid: int | None = None   # the separate user student code runs as (root only), else None
    gid: int | None = None
    mechanisms_es: list[str] = field(default_factory=list)  # ``mechanisms`` and ``missing`` in Spanish
    missing_es: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """The level and its mechanisms, in the language in force (technical names stay as they are)."""
        if current_language() == "es":
            mechanisms, missing = self.mechanisms_es or self.mechanisms, self.missing_es or self.missing
        else:
            mechanisms, missing = self.mechanisms, self.missing
        text = str(T("{level} ({mechanisms})", "{level} ({mechanisms})").format(
            level=LEVEL_WORDS.get(self.level, self.level),
            mechanisms=", ".join(mechanisms) or T("a separate process only", "solo un proceso aparte")))
        return text + (str(T("; missing: {m}", "; falta: {m}").format(m=", ".join(missing))) if missing else "")

    def at_least(self, level: str) -> bool:
        return LEVELS.index(self.level) >= LEVELS.index(level)


def student_user(root: bool) -> tuple[str, int, int] | None:
    """(name, uid, gid) of the user named by ``AUTOGRADER_STUDENT_USER``, or None (unset, or not root)."""
    name = os.environ.get(USER_VARIABLE, "").strip()
    if not name or not root:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise IsolationError(f"{USER_VARIABLE}={name}: no such user") from None
    if entry.pw_uid == 0:
        raise IsolationError(f"{USER_VARIABLE}={name}: uid 0 is not an unprivileged user")
    python = Path(sys.executable).resolve()
    blocked = next((p for p in [*reversed(python.parents), python]
                    if not _may_execute(p, entry.pw_uid, entry.pw_gid)), None)
    if blocked is not None:
        raise IsolationError(f"{USER_VARIABLE}={name}: that user cannot run {python} ({blocked} is closed to it)")
    return name, entry.pw_uid, entry.pw_gid


def _may_execute(path: Path, uid: int, gid: int) -> bool:
    """Whether ``uid``/``gid`` (no supplementary groups) may search the folder or run the file ``path``."""
    info = path.stat()
    if info.st_uid == uid:
        return bool(info.st_mode & 0o100)
    if info.st_gid == gid:
        return bool(info.st_mode & 0o010)
    return bool(info.st_mode & 0o001)


def landlock_cap() -> int:
    """The highest Landlock ABI that ``AUTOGRADER_LANDLOCK_ABI`` lets the sandbox use (no cap: 1000)."""
    try:
        return max(int(os.environ.get(LANDLOCK_VARIABLE, "1000")), 0)
    except ValueError:
        return 1000


def probe() -> Isolation:
    """The strongest confinement this machine offers (capped by ``AUTOGRADER_ISOLATION`` and
    ``AUTOGRADER_LANDLOCK_ABI`` if set). Raises IsolationError when ``AUTOGRADER_STUDENT_USER`` names no
    usable user."""
    found = confine.available()
    cap = os.environ.get(CAP_VARIABLE, "full")
    if cap not in LEVELS:
        cap = "full"
    if not found["linux"] or cap == "none":
        return Isolation("none", ["separate process", "resource limits"],
                         ["Landlock", "seccomp", "subreaper"] if found["linux"] else
                         ["Linux (Landlock, seccomp, subreaper)"],
                         mechanisms_es=["proceso aparte", "límites de recursos"],
                         missing_es=["Landlock", "seccomp", "subreaper"] if found["linux"] else
                         ["Linux (Landlock, seccomp, subreaper)"])
    abi = min(found["landlock"], landlock_cap()) if cap == "full" else 0
    use_seccomp = found["seccomp"] and cap == "full"
    listener = use_seccomp and found["notify"]
    netns = found["root"] and cap == "full" and confine.network_namespace_available()
    user = student_user(found["root"])
    group = cgroups.available()
    mechanisms: list[T] = []
    missing: list[T] = []

    def guarantee(name: str, given: list[T], lacking: T) -> None:
        """Each text is a T: ``mechanisms`` and ``missing`` in English, their Spanish for ``describe``."""
        if given:
            mechanisms.append(T("{name}: ", "{name}: ").format(name=GUARANTEE_WORDS[name])
                              + T(" + ".join(g.en for g in given), " + ".join(g.es for g in given)))
        else:
            missing.append(T("{name} ({lacking})", "{name} ({lacking})").format(name=GUARANTEE_WORDS[name],
                                                                                lacking=lacking))

    what = (T("files", "archivos") + (", TCP" if abi >= 4 else "")
            + (T(", signals, abstract sockets", ", señales, sockets abstractos") if abi >= 6 else ""))
    guarantee("files", [T("Landlock ABI {abi} ({what})", "Landlock ABI {abi} ({what})").format(abi=abi, what=what)]
              if abi else [],
              T("Landlock, Linux 5.13+", "Landlock, Linux 5.13+")
              + (T("; this kernel has ABI {n}", "; este kernel tiene la ABI {n}").format(n=found["landlock"])
                 if found["landlock"] else ""))
    scopes = [T("Landlock ABI {abi} scopes", "scopes de Landlock ABI {abi}").format(abi=abi)] \
        if abi >= FULL_LANDLOCK_ABI else []
    signals = scopes + ([T("separate user {name} (uid {uid})", "usuario aparte {name} (uid {uid})")
                         .format(name=user[0], uid=user[1])] if user else [])
    guarantee("signals", signals + [T("seccomp (no ptrace)", "seccomp (sin ptrace)")] * use_seccomp if signals else [],
              T("Landlock ABI {abi} (Linux 6.12+), or grading as root with a separate user ({variable})",
                "Landlock ABI {abi} (Linux 6.12+), o corregir como root con un usuario aparte ({variable})")
              .format(abi=FULL_LANDLOCK_ABI, variable=USER_VARIABLE))
    abstract = scopes + ([T("network namespace", "espacio de nombres de red (network namespace)")] if netns else [])
    abstract_lacking = T("for abstract Unix sockets Landlock ABI {abi} (Linux 6.12+) or a network namespace "
                         "(grading as root)", "para los sockets Unix abstractos, Landlock ABI {abi} (Linux 6.12+) o "
                         "un espacio de nombres de red (corrigiendo como root)").format(abi=FULL_LANDLOCK_ABI)
    guarantee("network", [T("seccomp allow-list (Unix sockets only, no io_uring)",
                            "lista de permitidas de seccomp (solo sockets Unix, sin io_uring)")] + abstract
              if use_seccomp and abstract else [],
              abstract_lacking if use_seccomp else T("seccomp, and ", "seccomp y, ") + abstract_lacking)
    tree = [T("subreaper warden", "guardián subreaper")]
    if "processes" in group:
        tree.append(T("cgroup " + ", ".join(group),
                      "cgroup " + ", ".join(CGROUP_WORDS[g].es if g in CGROUP_WORDS else g for g in group)))
    elif not found["root"] or user:
        tree.append(T("RLIMIT_NPROC", "RLIMIT_NPROC"))
    if "memory" not in group:
        tree.append(T("memory sampled by the warden", "memoria muestreada por el guardián"))
    guarantee("tree", tree if "processes" in group or not found["root"] or user else [],
              T("a process limit: RLIMIT_NPROC does not bind root; no writable cgroup",
                "un límite de procesos: RLIMIT_NPROC no limita a root; no hay ningún cgroup escribible"))
    if found["root"]:
        mechanisms.append(T("no capabilities", "sin capabilities"))
    level = "full" if not missing else "partial"
    return Isolation(level, [m.en for m in mechanisms], [m.en for m in missing], landlock_abi=abi,
                     seccomp=use_seccomp, seccomp_listener=listener, network_namespace=netns,
                     drop_privileges=found["root"], uid=user[1] if user else None, gid=user[2] if user else None,
                     mechanisms_es=[m.es for m in mechanisms], missing_es=[m.es for m in missing])


def require(isolation: Isolation, minimum: str) -> None:
    if not isolation.at_least(minimum):
        raise IsolationError(
            f"this machine gives the student process only {isolation.level} isolation "
            f"(missing: {', '.join(isolation.missing)}); grading needs {minimum}. "
            f"Pass --allow-isolation {isolation.level} to grade anyway.")


# -- what the student process may read and write ------------------------------------------------
def share_with_student(isolation: Isolation, root: Path, read: list[Path] = (), write: list[Path] = ()) -> None:
    """Let the separate student user (if any) reach the grading run's own folders: ``root`` only to pass
    through, ``read`` to read (owned by root, group the student's), ``write`` as its own. Nobody else gains
    anything: other users stay locked out, and nothing outside these folders changes."""
    if isolation.uid is None:
        return
    gid = isolation.gid
    os.chown(root, 0, gid)
    os.chmod(root, 0o710)
    for top in read:
        for folder, dirs, files in os.walk(top):
            os.chown(folder, 0, gid)
            os.chmod(folder, 0o750)
            for name in files:
                path = os.path.join(folder, name)
                if not os.path.islink(path):
                    os.chown(path, 0, gid)
                    os.chmod(path, 0o640)
    for folder in write:
        os.chown(folder, isolation.uid, gid)
        os.chmod(folder, 0o700)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def grant_except(root: str, excluded: list[Path]) -> tuple[list[str], list[str]]:
    """Split ``root`` into (paths granted whole, directories granted only to list) so that no
    ``excluded`` path inside it is granted. Landlock has no deny rules, so an excluded subtree is left
    out by granting each of its ancestors' other entries instead. A root inside an excluded folder
    (a virtual environment inside the course repository) is still granted; nothing inside this
    engine's package ever is."""
    path = Path(root).resolve()
    if not path.exists() or path in excluded or _inside(path, course.PACKAGE_DIR.resolve()):
        return [], []
    inner = [ex for ex in excluded if ex != path and _inside(ex, path)]
    if not inner:
        return [str(path)], []
    whole, listed = [], [str(path)]
    try:
        entries = sorted(path.iterdir())
    except OSError:
        return [], []
    for entry in entries:
        if entry.is_symlink():
            continue
        more_whole, more_listed = grant_except(str(entry), excluded)
        whole += more_whole
        listed += more_listed
    return whole, listed


def python_paths() -> list[str]:
    """The interpreter, its standard library and every site-packages folder."""
    paths = {sys.base_prefix, sys.prefix, str(Path(sys.executable).resolve().parent)}
    for scheme_vars in ({}, {"base": sys.base_prefix, "platbase": sys.base_prefix}):
        for key in ("stdlib", "platstdlib", "purelib", "platlib"):
            paths.add(sysconfig.get_paths(vars=scheme_vars or None)[key])
    paths.update(site.getsitepackages())
    return sorted(p for p in paths if p and os.path.isdir(p))


def excluded_paths(private: list[Path]) -> list[Path]:
    """What must stay unreadable whatever else is granted: the engine's trusted code and graders, the
    course repository, and the grading run's private folders."""
    excluded = [course.PACKAGE_DIR.resolve(), *(p.resolve() for p in private)]
    root = course.repo_root()
    if root is not None:
        excluded.append(root.resolve())
    return excluded


def landlock_rules(isolation: Isolation, runtime: Path, submission: Path, scratch: Path,
                   private: list[Path], extra_read: list[str] = ()) -> dict | None:
    """The Landlock rules of one student process, or None below Landlock."""
    if not isolation.landlock_abi:
        return None
    excluded = excluded_paths(private)
    read_exec, listed = [], []
    for root in [*python_paths(), *SYSTEM_READ_EXEC]:
        whole, only_listed = grant_except(root, excluded)
        read_exec += whole
        listed += only_listed
    package = course.PACKAGE_DIR.resolve()
    listed.append(str(package))
    engine_files = [str(package / name) for name in STUDENT_MODULES]
    devices = gpu_devices()
    read = [str(runtime), str(submission), *SYSTEM_READ, *extra_read, *(GPU_READ if devices else [])]
    return {"abi": isolation.landlock_abi, "read_exec": sorted(set(read_exec)), "read": read,
            "list": sorted(set(listed)), "write": [str(scratch), *SYSTEM_WRITE],
            "read_files": [*SYSTEM_FILES, *engine_files], "devices": devices}
