"""The trusted end of the wire: one confined student process, started, asked, timed and killed.

:class:`StudentProcess` starts the warden (which starts the student process
under :mod:`confine`), sends request frames and reads reply frames, and while
it waits it enforces the limits: CPU seconds of the student process tree
(every second it uses is charged: what it used between two requests goes to
the next one, and between tests the tree is frozen where a cgroup freezer
exists), a wall-clock backstop several times looser, the size of the
scratch folder, and the size of every reply. Whatever goes wrong on the student side
(death, silence, garbage, an endless loop) becomes a :class:`StudentFailure`
with a reason; the caller decides whom it costs.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from autograder import course
from autograder.runner import cgroups, warden, zygote
from autograder.runner.isolation import Isolation, landlock_rules
from autograder.sandbox import wire

TICK = 0.05            # seconds between checks while waiting for the student process
DISK_CHECK_EVERY = 0.5  # seconds between measurements of the scratch folder
OUTPUT_KEPT = 64 * 1024  # bytes of the student process's printed output kept for diagnostics
ADDRESS_SPACE_FLOOR = 8 << 30  # bytes of address space any student process may reserve
OUTPUT_SHOWN = 2000      # characters of it shown in a message (the last ones)
STARTUP_SECONDS = 120   # Python and the runtime starting, before any student code runs
WARDEN_BOOT = ("import json, sys; sys.path.insert(0, sys.argv[1]); "
               "from autograder.runner import warden; warden.main(json.loads(sys.argv[2]))")
WORKER_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
               "from sandbox import worker; worker.main(sys.argv[2:])")


class StudentFailure(Exception):
    """The student process could not answer. ``kind``: crashed | timeout | protocol | disk | startup."""

    def __init__(self, kind: str, reason: str, detail: str = ""):
        super().__init__(reason)
        self.kind, self.reason, self.detail = kind, reason, detail


@dataclass
class Limits:
    """What one student process may use."""

    memory_mb: int = 6144       # resident memory of the whole student tree (cgroup, else the warden's sampler);
                                # each process's address space (RLIMIT_AS) twice as much, at least 8 GB
    scratch_mb: int = 256       # the scratch folder, and any one file (RLIMIT_FSIZE)
    tasks: int = 256            # processes and threads (cgroup pids.max, or RLIMIT_NPROC)
    open_files: int = 1024
    cpu_seconds: int = 3600     # RLIMIT_CPU of the student process, a last backstop
    reply_mb: int = 512         # largest reply frame accepted
    threads: int = 1            # OMP/MKL/OpenBLAS threads


@dataclass
class Budget:
    """Limits of one wait: student CPU seconds and wall seconds still available, and a wall deadline."""

    cpu: float
    wall: float
    deadline: float  # time.monotonic() of the overall limit
    cpu_limit: float = 0.0   # for messages: the whole per-test limits
    wall_limit: float = 0.0


def _worker_env(scratch: Path, threads: int) -> dict:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(scratch), "TMPDIR": str(scratch),
           "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONIOENCODING": "utf-8", "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(scratch / ".matplotlib")}
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    # Idle OpenMP threads sleep instead of spinning: spinning threads on a busy machine burn CPU time
    # (one A4 epoch measured 4.7 CPU s passive, 53 CPU s spinning, with 2 threads on 2 busy cores),
    # and CPU time is what a test's limit counts.
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return env


def student_zygote(preload: list[str], threads: int) -> zygote.Zygote:
    """This process's zygote for student processes that import ``preload`` first and use ``threads`` threads."""
    return zygote.zygote_for(sys.executable, str(course.PACKAGE_DIR.parent), list(preload),
                             _worker_env(Path("/"), threads))


def _tasks_of_uid(uid: int) -> int:
    """Processes and threads now running as ``uid`` (what RLIMIT_NPROC counts)."""
    count = 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                continue
    return count


class StudentProcess:
    """The warden and the student process it guards; see the module docstring."""

    def __init__(self, runtime: Path, submission: Path, scratch: Path, private: list[Path],
                 isolation: Isolation, limits: Limits, extra_read: list[str] = (), preload: list[str] = ()):
        self.runtime, self.submission, self.scratch = runtime, submission, scratch
        self.private, self.isolation, self.limits, self.extra_read = private, isolation, limits, list(extra_read)
        self.preload = list(preload)
        self.warden: subprocess.Popen | None = None
        self.worker_pid: int | None = None
        self.exit: dict | None = None
        self.output: deque = deque()
        self._output_size = 0
        self.seq = 0
        self.group: cgroups.ControlGroup | None = None
        self._report_buffer = b""
        self.last_cpu = 0.0  # CPU seconds the student process used during the last request
        self.charged_cpu: float | None = None  # the tree's CPU reading up to which every second is charged

    # -- start and stop -----------------------------------------------------------------------
    def start(self) -> None:
        """Start the warden and the student process; return once the student process is ready."""
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the warden and the student process, without waiting (see :meth:`wait_ready`)."""
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        out_r, out_w = os.pipe()
        report_r, report_w = os.pipe()
        command_r, command_w = os.pipe()
        # Address space per process: twice memory_mb, and never below what importing PyTorch reserves (it
        # reserves far more than it uses); what is resident is capped for the whole tree (cgroup, or sampler).
        limits = {"RLIMIT_AS": max(self.limits.memory_mb << 21, ADDRESS_SPACE_FLOOR), "RLIMIT_FSIZE": self.limits.scratch_mb << 20,
                  "RLIMIT_NOFILE": self.limits.open_files, "RLIMIT_CPU": self.limits.cpu_seconds, "RLIMIT_CORE": 0}
        if sys.platform.startswith("linux") and self.isolation.level != "none":
            self.group = cgroups.create(self.limits.tasks, self.limits.memory_mb << 20)
            uid = self.isolation.uid if self.isolation.uid is not None else os.geteuid()
            if self.group is None and uid != 0:  # RLIMIT_NPROC counts per user, and never binds root
                limits["RLIMIT_NPROC"] = _tasks_of_uid(uid) + self.limits.tasks
        executable = sys.executable
        config = {
            "report_fd": report_w, "command_fd": command_r,
            "worker": {"executable": executable, "cwd": str(self.scratch),
                       "argv": [executable, "-s", "-P", "-c", WORKER_BOOT, str(self.runtime), str(request_r),
                                str(reply_w), str(self.submission), str(self.limits.reply_mb << 20),
                                ",".join(self.preload)],
                       "env": _worker_env(self.scratch, self.limits.threads),
                       "out_fd": out_w, "pass_fds": [request_r, reply_w]},
            "limits": limits, "drop_privileges": self.isolation.drop_privileges,
            "uid": self.isolation.uid, "gid": self.isolation.gid,
            "cgroup": self.group.procs_files if self.group else [],
            "landlock": landlock_rules(self.isolation, self.runtime, self.submission, self.scratch, self.private,
                                       self.extra_read),
            "seccomp": self.isolation.seccomp, "seccomp_listener": self.isolation.seccomp_listener,
            "network_namespace": self.isolation.network_namespace,
            "freeze_file": self.group.freeze_file if self.group else None,
            "memory_sampler": (None if self.group and "memory" in self.group.features or
                               self.isolation.level == "none" else self.limits.memory_mb << 20),
        }
        try:
            self.warden = self._forked_warden(config, {
                "report_fd": report_w, "command_fd": command_r, "out_fd": out_w, "request_fd": request_r,
                "reply_fd": reply_w})
            if self.warden is None:
                self.warden = subprocess.Popen(
                    [sys.executable, "-S", "-E", "-s", "-c", WARDEN_BOOT, str(course.PACKAGE_DIR.parent),
                     json.dumps(config)],
                    pass_fds=(request_r, reply_w, out_w, report_w, command_r), stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)
        finally:
            for fd in (request_r, reply_w, out_w, report_w, command_r):
                os.close(fd)
        self.request_fd, self.reply_fd, self.report_fd, self.command_fd = request_w, reply_r, report_r, command_w
        os.set_blocking(self.request_fd, False)
        os.set_blocking(self.reply_fd, False)
        self._drain = threading.Thread(target=self._keep_output, args=(out_r,), daemon=True)
        self._drain.start()
        self.reader = wire.FrameReader(self.limits.reply_mb << 20)
        self.ready = False

    def _forked_warden(self, config: dict, fds: dict[str, int]) -> zygote.ForkedWarden | None:
        """The warden forked by this process's zygote for the preloaded libraries (:mod:`zygote`), or None
        where student processes are started with ``exec`` (no confinement, no fork, or no zygote here)."""
        if self.isolation.level == "none" or not zygote.enabled():
            return None
        worker = config["worker"]
        worker["boot"] = {"runtime": str(self.runtime), "args": worker["argv"][-3:]}
        status_r, status_w = os.pipe()
        try:
            student_zygote(self.preload, self.limits.threads).spawn(config, dict(fds, status_fd=status_w))
        except zygote.ZygoteUnavailable:
            os.close(status_r)
            return None
        finally:
            os.close(status_w)
        return zygote.ForkedWarden(status_r)

    def wait_ready(self) -> None:
        """Wait for the student process's first frame (it has started and imported its preloads)."""
        if self.ready:
            return
        budget = Budget(cpu=float("inf"), wall=STARTUP_SECONDS, deadline=time.monotonic() + STARTUP_SECONDS,
                        wall_limit=STARTUP_SECONDS)
        try:
            header, _ = self._wait_reply(budget, startup=True)
        except StudentFailure as failure:
            raise StudentFailure("startup", f"the student process did not start: {failure.reason}",
                                 failure.detail) from None
        if "ready" not in header:
            self._fail("startup", "the student process did not start")
        self.ready = True
        if self.measures_cpu:  # starting up is free; from now on every CPU second is charged (never wall time)
            self.charged_cpu = self.cpu_seconds()

    def _keep_output(self, fd: int) -> None:
        """Drain what the student process prints (so it never blocks), keeping the last OUTPUT_KEPT bytes."""
        with open(fd, "rb", buffering=0) as stream:
            while True:
                try:
                    chunk = stream.read(65536)
                except OSError:
                    return
                if not chunk:
                    return
                self.output.append(chunk)
                self._output_size += len(chunk)
                while self._output_size > OUTPUT_KEPT and len(self.output) > 1:
                    self._output_size -= len(self.output.popleft())

    def tail(self, lines: int = 5) -> str:
        text = b"".join(self.output).decode("utf-8", "replace")
        return wire.clean_text("\n".join(text.strip().splitlines()[-lines:])[-OUTPUT_SHOWN:])

    @property
    def alive(self) -> bool:
        return self.warden is not None and self.exit is None

    def stop(self) -> None:
        """Kill the student process and everything it started; wait for the warden."""
        if self.warden is None:
            return
        try:
            os.write(self.command_fd, b"k")
        except OSError:
            pass
        if self.group is not None:
            self.group.freeze(False)  # a frozen cgroup v1 process cannot die
        if self.worker_pid is not None:
            try:
                os.kill(self.worker_pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.warden.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.warden.kill()
            self.warden.wait()
        self._read_reports()
        for fd in (self.request_fd, self.reply_fd, self.report_fd, self.command_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.warden = None
        if self.group is not None:
            if self.group.out_of_memory() and self.exit is not None:
                self.exit = dict(self.exit, memory=True)
            self.group.remove()
        if self.exit is None:
            self.exit = {"signal": signal.SIGKILL}

    # -- requests -----------------------------------------------------------------------------
    def request(self, header: dict, buffers: list, budget: Budget) -> tuple[dict, list]:
        """Send one request and wait for its reply within ``budget``."""
        if not self.alive:
            raise StudentFailure("crashed", describe_exit(self.exit or {}))
        self.thaw()
        self.wait_ready()
        self.seq += 1
        pending = [memoryview(p).cast("B") for p in wire.pack(dict(header, seq=self.seq), buffers)]
        reply, out = self._wait_reply(budget, pending=pending)
        if reply.get("seq") != self.seq:
            self._fail("protocol", "it answered a question it was not asked")
        return reply, out

    def freeze(self) -> None:
        """Stop every process and thread of the student tree until the next request (where a cgroup
        freezer exists; elsewhere what it uses meanwhile is charged to the next request)."""
        if self.group is not None and self.alive:
            self.group.freeze(True)

    def thaw(self) -> None:
        if self.group is not None:
            self.group.freeze(False)

    @property
    def measures_cpu(self) -> bool:
        """Whether :meth:`cpu_seconds` reads CPU time (a cgroup, or Linux /proc), not the wall clock."""
        return (self.group is not None and "cpu" in self.group.features) or sys.platform.startswith("linux")

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by the student process tree, threads and children included (the
        cgroup's count; else the warden's descendants, live ones plus those it reaped; wall-clock time
        where neither can be read)."""
        if self.group is not None:
            value = self.group.cpu_seconds()
            if value is not None:
                return value
        if self.warden is not None and self.warden.pid and sys.platform.startswith("linux"):
            value = _tree_cpu_seconds(self.warden.pid)
            if value is not None:
                return value
        return time.monotonic()

    def _wait_reply(self, budget: Budget, pending: list | None = None, startup: bool = False) -> tuple[dict, list]:
        """Write ``pending`` while reading the reply; enforce ``budget`` and the scratch cap all along."""
        pending = pending or []
        start_wall = time.monotonic()
        start_cpu = self.charged_cpu if self.charged_cpu is not None else \
            self.cpu_seconds() if self.worker_pid is not None else None
        next_disk_check = start_wall + DISK_CHECK_EVERY
        next_check = start_wall + TICK
        self._write_some(pending)  # most requests fit in the pipe at once
        while True:
            try:
                ready, writable, _ = select.select([self.reply_fd, self.report_fd],
                                                   [self.request_fd] if pending else [], [], TICK)
            except InterruptedError:
                ready, writable = [], []
            if writable:
                self._write_some(pending)
            if self.report_fd in ready:
                self._read_reports()
            if self.reply_fd in ready:
                try:
                    frame = self.reader.feed(self.reply_fd)
                except EOFError:
                    self._await_exit()
                    self._fail("crashed")
                except wire.ProtocolError as exc:
                    self._fail("protocol", f"it sent a malformed reply ({exc})")
                if frame is not None:
                    now_cpu = self.cpu_seconds()
                    self.last_cpu = (now_cpu - start_cpu) if start_cpu is not None else 0.0
                    if self.charged_cpu is not None:
                        self.charged_cpu = now_cpu
                    if self.last_cpu > budget.cpu:  # what the tree used since the last reply counts too
                        self._fail("timeout", "cpu")
                    if self.group is not None and self.group.out_of_memory():
                        self._fail("crashed")  # a process of the tree was killed for memory: this test pays
                    return frame
            elif self.exit is not None:
                self._fail("crashed")
            now = time.monotonic()
            if now < next_check:
                continue
            next_check = now + TICK
            if start_cpu is None and self.worker_pid is not None:
                start_cpu = self.cpu_seconds()
            cpu = self.cpu_seconds() - start_cpu if start_cpu is not None else 0.0
            wall = now - start_wall
            if cpu > budget.cpu or wall > budget.wall or now > budget.deadline:
                self._fail("timeout", "cpu" if cpu > budget.cpu else "wall" if wall > budget.wall else "overall")
            if now >= next_disk_check and not startup:
                next_disk_check = now + DISK_CHECK_EVERY
                if _folder_size(self.scratch, self.limits.scratch_mb << 20) > self.limits.scratch_mb << 20:
                    self._fail("disk", f"it wrote more than {self.limits.scratch_mb} MB to its scratch folder")

    def _fail(self, kind: str, reason: str = "") -> None:
        """Stop everything and raise the failure; for a crash the reason is the wait status."""
        tail = self.tail()
        self.stop()
        raise StudentFailure(kind, reason or describe_exit(self.exit or {}), tail)

    def _write_some(self, pending: list) -> None:
        while pending:
            try:
                written = os.write(self.request_fd, pending[0][:1 << 20])
            except BlockingIOError:
                return
            except (BrokenPipeError, OSError):
                pending.clear()  # the student process is gone; the reader notices
                return
            pending[0] = pending[0][written:]
            if not pending[0]:
                pending.pop(0)

    def _read_reports(self) -> None:
        try:
            data = os.read(self.report_fd, 65536)
        except OSError:
            return
        if not data:
            if self.exit is None and self.warden is not None and self.warden.poll() is not None:
                self.exit = {"warden": self.warden.returncode}
            return
        self._report_buffer += data
        *lines, self._report_buffer = self._report_buffer.split(b"\n")
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "worker" in message:
                self.worker_pid = int(message["worker"])
            elif "failed" in message:
                self.exit = {"failed": str(message["failed"])}
            elif "exit" in message and self.exit is None:
                self.exit = dict(message["exit"])
                if "syscall" in message:
                    self.exit["syscall"] = wire.clean_text(str(message["syscall"]), 40)
                if message.get("memory"):
                    self.exit["memory"] = True

    def _await_exit(self, seconds: float = 5.0) -> None:
        deadline = time.monotonic() + seconds
        while self.exit is None and time.monotonic() < deadline:
            if select.select([self.report_fd], [], [], TICK)[0]:
                self._read_reports()
            elif self.warden is not None and self.warden.poll() is not None:
                self._read_reports()
                if self.exit is None:
                    self.exit = {"warden": self.warden.returncode}


def describe_exit(exit: dict) -> str:
    if exit.get("syscall"):
        return f"system call {exit['syscall']} refused"
    if exit.get("memory"):
        return "memory limit of the student tree"
    if "failed" in exit:
        return f"the student process could not be confined ({exit['failed']})"
    if "warden" in exit:
        return f"the process guarding the student process stopped (exit code {exit['warden']})"
    if exit.get("signal") is not None:
        number = exit["signal"]
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
        return f"signal {name}"
    return f"exit code {exit.get('code')}"


def _tree_cpu_seconds(warden_pid: int) -> float | None:
    """CPU seconds of every descendant of the warden (live: their own; reaped: the warden's children's)."""
    total, read = 0, False
    for pid in [warden_pid, *warden.descendants(warden_pid)]:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rpartition(b")")[2].split()
        except OSError:
            continue
        read = True
        total += sum(int(f) for f in (fields[13:15] if pid == warden_pid else fields[11:15]))
    return total / os.sysconf("SC_CLK_TCK") if read else None


def _folder_size(folder: Path, stop_above: int) -> int:
    """Bytes under ``folder``; stops counting once past ``stop_above`` (or past 100,000 entries)."""
    total, seen, stack = 0, 0, [str(folder)]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                seen += 1
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
                except OSError:
                    continue
                if total > stop_above or seen > 100_000:
                    return max(total, stop_above + 1)
    return total
