"""The warden: starts one confined student process and makes sure nothing it started outlives it.

A small process of its own, standard library only, that runs outside the
sandbox (the student process can neither signal nor trace it). The trusted
side starts it as ``python -S -E -s -c <bootstrap> <config JSON>``; it

1. becomes a child subreaper (Linux), so every orphaned descendant of the
   student process is re-parented to it instead of escaping to init;
2. forks the student process and, between fork and exec, confines it
   (:mod:`autograder.runner.confine`: limits, uid, capabilities, Landlock,
   seccomp), with its request and reply pipes as its only descriptors;
3. reports ``{"worker": pid, "applied": [...]}`` (or ``{"failed": why}``) as
   one JSON line on its report descriptor;
4. waits until the student process exits, or its command descriptor says
   ``k`` or is closed (the trusted side is done, or died), then kills every
   remaining descendant, reports ``{"exit": ...}`` and exits.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

from autograder.runner import cgroups, confine


def report(fd: int, **message) -> None:
    try:
        os.write(fd, (json.dumps(message) + "\n").encode())
    except OSError:
        pass  # the trusted side is gone; cleaning up is all that is left


def children(parent: int) -> list[int]:
    """Processes whose parent is ``parent`` (Linux ``/proc``)."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rpartition(b")")[2].split()
        except OSError:
            continue
        if len(fields) > 1 and int(fields[1]) == parent:
            found.append(int(entry))
    return found


def reap() -> dict[int, int]:
    """Collect every exited child: pid -> wait status."""
    statuses = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return statuses
        if pid == 0:
            return statuses
        statuses[pid] = status


def kill_everything(worker: int, statuses: dict[int, int]) -> None:
    """SIGKILL the student process and all its descendants, until none is left."""
    try:
        os.killpg(worker, signal.SIGKILL)  # its own process group (it called setsid)
    except OSError:
        pass
    if not confine.LINUX:
        statuses.update(reap())
        return
    me = os.getpid()
    for _ in range(10000):
        kids = children(me)
        if not kids:
            break
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            statuses.update(reap())
            if not set(kids) & set(children(me)):
                break
            time.sleep(0.005)
    statuses.update(reap())


def describe(status: int) -> dict:
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None}


def confinement(config: dict, report_fd: int):
    """The function run in the student process between fork and exec."""
    def prepare():
        try:
            os.setsid()
            cgroups.join(config.get("cgroup", []))
            if confine.LINUX:
                confine.prctl(confine.PR_SET_PDEATHSIG, signal.SIGKILL, what="pdeathsig")
            confine.set_limits(config.get("limits", {}))
            if config.get("drop_privileges"):
                confine.drop_privileges(config.get("uid"), config.get("gid"))
                if confine.LINUX and config.get("uid") is not None:  # a change of uid clears the death signal
                    confine.prctl(confine.PR_SET_PDEATHSIG, signal.SIGKILL, what="pdeathsig")
            rules = config.get("landlock")
            if rules:
                confine.landlock(rules["abi"], rules["read_exec"], rules["read"], rules["write"], rules["read_files"],
                                 rules.get("list", []), rules.get("devices", []))
            if config.get("seccomp"):
                confine.seccomp()
        except BaseException as exc:  # tell the trusted side why, then never exec
            report(report_fd, failed=f"{type(exc).__name__}: {exc}")
            os._exit(126)
    return prepare


def main(config: dict) -> None:
    report_fd, command_fd = config["report_fd"], config["command_fd"]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if confine.LINUX:
        confine.prctl(confine.PR_SET_CHILD_SUBREAPER, 1, what="subreaper")
        confine.prctl(confine.PR_SET_PDEATHSIG, signal.SIGTERM, what="pdeathsig")
    worker_config = config["worker"]
    process = subprocess.Popen(
        worker_config["argv"], executable=worker_config["executable"], cwd=worker_config["cwd"],
        env=worker_config["env"], stdin=subprocess.DEVNULL, stdout=worker_config["out_fd"],
        stderr=worker_config["out_fd"], pass_fds=tuple(worker_config["pass_fds"]), close_fds=True,
        preexec_fn=confinement(config, report_fd) if os.name == "posix" else None)
    for fd in [worker_config["out_fd"], *worker_config["pass_fds"]]:
        os.close(fd)  # only the student process holds them now: its death closes the wire
    worker, statuses = process.pid, {}
    report(report_fd, worker=worker, applied=config.get("applied", []))
    pidfd = os.pidfd_open(worker) if hasattr(os, "pidfd_open") else None
    try:
        while worker not in statuses:
            watched = [command_fd] + ([pidfd] if pidfd is not None else [])
            try:
                ready = select.select(watched, [], [], None if pidfd is not None else 0.05)[0]
            except InterruptedError:
                ready = []
            statuses.update(reap())
            if command_fd in ready:
                command = os.read(command_fd, 64)
                if not command or b"k" in command:
                    break
    finally:
        kill_everything(worker, statuses)
        status = statuses.get(worker)
        report(report_fd, exit=describe(status) if status is not None else {"signal": signal.SIGKILL})


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
