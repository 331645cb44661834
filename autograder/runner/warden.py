"""The warden: starts one confined student process and makes sure nothing it started outlives it.

A small process of its own, standard library only, that runs outside the
sandbox (the student process can neither signal nor trace it). The trusted
side starts it as ``python -S -E -s -c <bootstrap> <config JSON>``; it

1. becomes a child subreaper (Linux), so every orphaned descendant of the
   student process is re-parented to it instead of escaping to init;
2. forks the student process and, between fork and exec, confines it
   (:mod:`autograder.runner.confine`: cgroup, network namespace, limits, uid,
   capabilities, Landlock, seccomp), with its request and reply pipes as its
   only descriptors;
3. reports ``{"worker": pid, "applied": [...]}`` (or ``{"failed": why}``) as
   one JSON line on its report descriptor;
4. waits until the student process exits, or its command descriptor says
   ``k`` or is closed (the trusted side is done, or died), or the student
   tree makes a system call outside the allow-list (the seccomp listener
   names it), or, where no cgroup caps its memory, the tree's resident
   memory passes the cap (sampled here); then kills every remaining
   descendant, reports ``{"exit": ..., "syscall"/"memory": ...}`` and exits.
"""
from __future__ import annotations

import json
import os
import platform
import select
import signal
import socket
import subprocess
import sys
import time

from autograder.runner import cgroups, confine, syscalls

MEMORY_SAMPLE_SECONDS = 0.2  # how often the tree's memory is measured where no cgroup caps it


def report(fd: int, **message) -> None:
    try:
        os.write(fd, (json.dumps(message) + "\n").encode())
    except OSError:
        pass  # the trusted side is gone; cleaning up is all that is left


def parents() -> dict[int, int]:
    """pid -> parent pid of every process (Linux ``/proc``)."""
    found = {}
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
        if len(fields) > 1:
            found[int(entry)] = int(fields[1])
    return found


def children(parent: int) -> list[int]:
    """Processes whose parent is ``parent``."""
    return [pid for pid, ppid in parents().items() if ppid == parent]


def descendants(root: int) -> set[int]:
    """Every process below ``root`` (for the warden: all the student tree, orphans being re-parented to it)."""
    parent_of = parents()
    below, grown = set(), {root}
    while grown:
        below |= grown
        grown = {pid for pid, ppid in parent_of.items() if ppid in grown} - below
    return below - {root}


def tree_resident_bytes(root: int) -> int:
    """Resident memory of every descendant of ``root``."""
    return sum(_proportional_bytes(pid) for pid in descendants(root))


def _proportional_bytes(pid: int) -> int:
    """The process's share of resident memory (PSS: a page shared by n processes counts 1/n in each, so
    forked workers are not counted n times), else its resident size."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


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


def kill_everything(worker: int, statuses: dict[int, int], freeze_file: str | None = None) -> None:
    """SIGKILL the student process and all its descendants, until none is left (a frozen group is let go
    first: a cgroup v1 process that is frozen cannot die)."""
    if freeze_file:
        cgroups.set_frozen(freeze_file, False)
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


def default_signals() -> None:
    """Every signal at its default disposition and none blocked, whatever this process inherited (an ignored
    signal survives ``exec``: a grader started with ``nohup``, or in the background of a script, ignores SIGHUP or
    SIGINT)."""
    for number in signal.valid_signals():
        if number not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(number, signal.SIG_DFL)
            except (OSError, ValueError, RuntimeError):
                pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def interpreter_signals() -> None:
    """What the Python interpreter sets when it starts with default dispositions: SIGINT raises
    KeyboardInterrupt, SIGPIPE and SIGXFSZ are ignored (a write fails with an error instead)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for name in ("SIGPIPE", "SIGXFSZ"):
        signal.signal(getattr(signal, name), signal.SIG_IGN)


def confinement(config: dict, report_fd: int, listener_socket: int | None):
    """The function run in the student process between fork and exec."""
    def prepare():
        try:
            default_signals()
            os.setsid()
            cgroups.join(config.get("cgroup", []))
            if config.get("network_namespace"):
                confine.new_network_namespace()
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
                confine.seccomp(listener_socket)
        except BaseException as exc:  # tell the trusted side why, then never exec
            report(report_fd, failed=f"{type(exc).__name__}: {exc}")
            os._exit(126)
    return prepare


def main(config: dict, fork_worker=None) -> None:
    """Start the student process and guard it until it ends (see the module docstring).

    ``fork_worker(worker_config, prepare, keep)``, when given, starts it by forking this process instead of
    executing a new interpreter (:mod:`autograder.runner.zygote`: this warden was itself forked from a process
    that has imported the student's libraries); it returns the pid, its child runs ``prepare`` first."""
    report_fd, command_fd = config["report_fd"], config["command_fd"]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if confine.LINUX:
        confine.prctl(confine.PR_SET_CHILD_SUBREAPER, 1, what="subreaper")
        confine.prctl(confine.PR_SET_PDEATHSIG, signal.SIGTERM, what="pdeathsig")
    worker_config = config["worker"]
    ours = theirs = None
    if config.get("seccomp") and config.get("seccomp_listener"):
        ours, theirs = socket.socketpair()
    prepare = confinement(config, report_fd, theirs.fileno() if theirs else None)
    if fork_worker is not None:
        worker = fork_worker(worker_config, prepare, [report_fd, *([theirs.fileno()] if theirs else [])])
    else:
        worker = subprocess.Popen(
            worker_config["argv"], executable=worker_config["executable"], cwd=worker_config["cwd"],
            env=worker_config["env"], stdin=subprocess.DEVNULL, stdout=worker_config["out_fd"],
            stderr=worker_config["out_fd"], pass_fds=tuple(worker_config["pass_fds"]), close_fds=True,
            preexec_fn=prepare if os.name == "posix" else None).pid
    for fd in [worker_config["out_fd"], *worker_config["pass_fds"]]:
        os.close(fd)  # only the student process holds them now: its death closes the wire
    listener = None
    if ours is not None:
        theirs.close()
        ours.setblocking(False)
        listener = confine.receive_listener(ours)
        ours.close()
    statuses, ended = {}, {}
    report(report_fd, worker=worker, applied=config.get("applied", []))
    pidfd = os.pidfd_open(worker) if hasattr(os, "pidfd_open") else None
    memory_cap = config.get("memory_sampler")
    timeout = MEMORY_SAMPLE_SECONDS if memory_cap else None if pidfd is not None else 0.05
    try:
        while worker not in statuses:
            watched = [command_fd] + [fd for fd in (pidfd, listener) if fd is not None]
            try:
                ready = select.select(watched, [], [], timeout)[0]
            except InterruptedError:
                ready = []
            statuses.update(reap())
            if command_fd in ready:
                command = os.read(command_fd, 64)
                if not command or b"k" in command:
                    break
            if listener is not None and listener in ready:
                number = confine.next_refused_call(listener)
                if number is not None:
                    ended["syscall"] = syscalls.name_of(number, platform.machine())
                    break
                os.close(listener)  # the student tree is gone: nothing more will come
                listener = None
            if memory_cap and tree_resident_bytes(os.getpid()) > memory_cap:
                ended["memory"] = True
                break
    finally:
        kill_everything(worker, statuses, config.get("freeze_file"))
        status = statuses.get(worker)
        report(report_fd, exit=describe(status) if status is not None else {"signal": signal.SIGKILL}, **ended)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
