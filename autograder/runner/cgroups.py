"""A control group for one student process tree, where this machine lets us make one (root, writable cgroupfs).

It caps the number of processes and threads (``pids.max``), which ``RLIMIT_NPROC`` cannot do for uid 0,
caps the resident memory of the whole tree (``memory.max``, v1 ``memory.limit_in_bytes``), measures the CPU
time of the whole tree (threads, forked and detached processes included), and freezes the tree between
tests, so that nothing it leaves running uses the machine while the grader works. cgroup v2 (one hierarchy)
and v1 (``pids``, ``memory``, ``cpuacct`` and ``freezer`` hierarchies) are both handled; each feature is
used where its controller exists, and :attr:`ControlGroup.features` says which.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


class ControlGroup:
    """Folders of one group, created now and removed by :meth:`remove` once its processes are gone."""

    def __init__(self, version: int, folders: dict[str, Path]):
        self.version, self.folders = version, folders  # controller ("pids", "memory"...) -> its folder
        self._cpu_fd: int | None = None
        self.frozen = False

    @property
    def features(self) -> list[str]:
        """What this group does: "processes", "memory", "cpu", "freeze"."""
        names = {"pids": "processes", "memory": "memory", "cpuacct": "cpu", "freezer": "freeze"}
        return [names[c] for c in ("pids", "memory", "cpuacct", "freezer") if c in self.folders]

    @property
    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a new process writes its pid to (between fork and exec)."""
        return sorted({str(folder / "cgroup.procs") for folder in self.folders.values()})

    @property
    def freeze_file(self) -> str | None:
        folder = self.folders.get("freezer")
        if folder is None:
            return None
        return str(folder / ("cgroup.freeze" if self.version == 2 else "freezer.state"))

    def _file(self, controller: str, v2: str, v1: str) -> Path | None:
        folder = self.folders.get(controller)
        return None if folder is None else folder / (v2 if self.version == 2 else v1)

    def cpu_seconds(self) -> float | None:
        path = self._file("cpuacct", "cpu.stat", "cpuacct.usage")
        if path is None:
            return None
        try:
            if self._cpu_fd is None:
                self._cpu_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            text = os.pread(self._cpu_fd, 4096, 0).decode()
        except OSError:
            return None
        if self.version == 2:
            for line in text.splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
            return None
        return int(text.strip()) / 1e9  # cpuacct.usage: nanoseconds

    def out_of_memory(self) -> bool:
        """Whether the kernel killed a process of the group for going past its memory limit."""
        path = self._file("memory", "memory.events", "memory.oom_control")
        try:
            text = path.read_text() if path is not None else ""
        except OSError:
            return False
        return any(line.split()[0] == "oom_kill" and int(line.split()[1]) > 0
                   for line in text.splitlines() if len(line.split()) == 2)

    def freeze(self, frozen: bool) -> None:
        """Stop (or let go on) every process and thread of the group; they use no CPU while frozen."""
        if self.freeze_file is None or frozen == self.frozen:
            return
        set_frozen(self.freeze_file, frozen)
        self.frozen = frozen

    def remove(self) -> None:
        if self._cpu_fd is not None:
            os.close(self._cpu_fd)
            self._cpu_fd = None
        for folder in set(self.folders.values()):
            try:
                folder.rmdir()
            except OSError:
                pass


def set_frozen(freeze_file: str, frozen: bool) -> None:
    """Write the freezer state (v2 ``cgroup.freeze``: 1/0, v1 ``freezer.state``: FROZEN/THAWED)."""
    value = ("1" if frozen else "0") if freeze_file.endswith("cgroup.freeze") else ("FROZEN" if frozen else "THAWED")
    try:
        with open(freeze_file, "w") as state:
            state.write(value)
    except OSError:
        pass


def create(max_tasks: int, memory_bytes: int | None = None) -> ControlGroup | None:
    """A new group limited to ``max_tasks`` processes and threads (and ``memory_bytes`` of memory where the
    memory controller exists), or None where no group with a process limit can be made."""
    if os.name != "posix" or os.geteuid() != 0 or not ROOT.is_dir():
        return None
    name = f"autograder-{uuid.uuid4().hex[:12]}"
    unified = ROOT / "cgroup.controllers"
    group = None
    try:
        if unified.is_file() and "pids" in unified.read_text().split():
            enabled = (ROOT / "cgroup.subtree_control").read_text().split()
            folder = ROOT / name
            folder.mkdir()
            folders = {"pids": folder, "cpuacct": folder, "freezer": folder}
            if "memory" in enabled:
                folders["memory"] = folder
            group = ControlGroup(2, folders)
        elif (ROOT / "pids" / "cgroup.procs").is_file():
            (ROOT / "pids" / name).mkdir()
            group = ControlGroup(1, {"pids": ROOT / "pids" / name})
            for controller, probe in (("cpuacct", "cpuacct.usage"), ("memory", "memory.limit_in_bytes"),
                                      ("freezer", "cgroup.procs")):
                hierarchy = ROOT / controller
                if (hierarchy / probe).is_file():
                    try:
                        (hierarchy / name).mkdir()
                        group.folders[controller] = hierarchy / name
                    except OSError:
                        pass
        else:
            return None
        (group.folders["pids"] / "pids.max").write_text(str(max_tasks))
    except OSError:
        if group is not None:
            group.remove()
        return None
    if "memory" in group.folders and memory_bytes:
        if not _limit_memory(group, memory_bytes):
            folder = group.folders.pop("memory")
            if group.version == 1:
                try:
                    folder.rmdir()
                except OSError:
                    pass
    else:
        group.folders.pop("memory", None)
    return group


def _limit_memory(group: ControlGroup, memory_bytes: int) -> bool:
    folder = group.folders["memory"]
    try:
        if group.version == 2:
            (folder / "memory.max").write_text(str(memory_bytes))
            if (folder / "memory.swap.max").exists():
                (folder / "memory.swap.max").write_text("0")
        else:
            (folder / "memory.limit_in_bytes").write_text(str(memory_bytes))
            swap = folder / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(str(memory_bytes))
    except OSError:
        return False
    return True


def join(procs_files: list[str]) -> None:
    """Move the calling process into the group (run between fork and exec, before confinement)."""
    pid = str(os.getpid()).encode()
    for path in procs_files:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, pid)
        finally:
            os.close(fd)


def available() -> list[str]:
    """The features of a group made here (made and removed at once); empty where none can be made."""
    group = create(64, 1 << 30)
    if group is None:
        return []
    features = group.features
    group.remove()
    return features
