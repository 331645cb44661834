"""A control group for one student process tree, where this machine lets us make one (root, writable cgroupfs).

It caps the number of processes and threads (``pids.max``), which
``RLIMIT_NPROC`` cannot do for uid 0, and measures the CPU time of the whole
tree (threads, forked and detached processes included). cgroup v2 (one
hierarchy) and v1 (``pids`` and ``cpuacct`` hierarchies) are both handled.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


class ControlGroup:
    """Folders of one group, created now and removed by :meth:`remove` once its processes are gone."""

    def __init__(self, pids_dir: Path, cpu_file: Path | None, folders: list[Path]):
        self.pids_dir, self.cpu_file, self.folders = pids_dir, cpu_file, folders
        self._cpu_fd: int | None = None

    @property
    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a new process writes its pid to (between fork and exec)."""
        return [str(folder / "cgroup.procs") for folder in self.folders]

    def cpu_seconds(self) -> float | None:
        if self.cpu_file is None:
            return None
        try:
            if self._cpu_fd is None:
                self._cpu_fd = os.open(self.cpu_file, os.O_RDONLY | os.O_CLOEXEC)
            text = os.pread(self._cpu_fd, 4096, 0).decode()
        except OSError:
            return None
        if self.cpu_file.name == "cpu.stat":
            for line in text.splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
            return None
        return int(text.strip()) / 1e9  # cpuacct.usage: nanoseconds

    def remove(self) -> None:
        if self._cpu_fd is not None:
            os.close(self._cpu_fd)
            self._cpu_fd = None
        for folder in self.folders:
            try:
                folder.rmdir()
            except OSError:
                pass


def create(max_tasks: int) -> ControlGroup | None:
    """A new group limited to ``max_tasks`` processes and threads, or None where none can be made."""
    if os.name != "posix" or os.geteuid() != 0 or not ROOT.is_dir():
        return None
    name = f"autograder-{uuid.uuid4().hex[:12]}"
    unified = ROOT / "cgroup.controllers"
    try:
        if unified.is_file() and "pids" in unified.read_text().split():
            folder = ROOT / name
            folder.mkdir()
            group = ControlGroup(folder, folder / "cpu.stat", [folder])
        elif (ROOT / "pids" / "cgroup.procs").is_file():
            pids = ROOT / "pids" / name
            pids.mkdir()
            folders, cpu_file = [pids], None
            cpuacct = ROOT / "cpuacct"
            if (cpuacct / "cpuacct.usage").is_file():
                try:
                    (cpuacct / name).mkdir()
                    folders.append(cpuacct / name)
                    cpu_file = cpuacct / name / "cpuacct.usage"
                except OSError:
                    pass
            group = ControlGroup(pids, cpu_file, folders)
        else:
            return None
    except OSError:
        return None
    try:
        (group.pids_dir / "pids.max").write_text(str(max_tasks))
    except OSError:
        group.remove()
        return None
    return group


def join(procs_files: list[str]) -> None:
    """Move the calling process into the group (run between fork and exec, before confinement)."""
    pid = str(os.getpid()).encode()
    for path in procs_files:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, pid)
        finally:
            os.close(fd)


def available() -> bool:
    """Whether a group can be made here (made and removed at once)."""
    group = create(64)
    if group is None:
        return False
    group.remove()
    return True
