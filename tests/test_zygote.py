"""Student processes forked from the zygote (``autograder.runner.zygote``) are the student processes an ``exec``
starts: the same confinement, environment and descriptors, fresh random state, none of the engine, nothing of
another student, and no way to reach the zygote, which every later student process is forked from.
"""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from autograder import api
from autograder.runner import isolation, zygote
from autograder.runner.channel import Limits
from autograder.runner.remote import Sandbox
from conftest import ROOT, write_submission

pytestmark = pytest.mark.skipif(not zygote.enabled(), reason="no zygote here: student processes start with exec")
PRELOAD = ["numpy", "torch"]

PROBE = '''import os, signal, sys, tempfile, threading


def facts():
    """What a process can see of how it was started."""
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
    return {
        "path": list(sys.path), "engine": sorted(n for n in sys.modules if n.split(".")[0] == "autograder"),
        "libraries": sorted(n for n in sys.modules if n in ("numpy", "torch")),
        "tmp": tempfile.gettempdir(), "cwd": os.getcwd(), "env": dict(os.environ),
        "fds": len(os.listdir("/proc/self/fd")), "argv": sys.argv, "uid": os.getuid(), "gid": os.getgid(),
        "threads": threading.active_count(), "tasks": len(os.listdir("/proc/self/task")),
        "signals": {name: str(signal.getsignal(getattr(signal, name)))
                    for name in ("SIGTERM", "SIGINT", "SIGPIPE", "SIGXFSZ", "SIGCHLD", "SIGHUP")},
        "status": {key: status[key].strip() for key in ("Seccomp", "NoNewPrivs", "CapEff", "CapPrm", "CapBnd",
                                                        "Uid", "Gid", "Groups") if key in status},
        "limits": sorted(open("/proc/self/limits").read().splitlines()),
        "flags": [sys.flags.no_user_site, sys.flags.safe_path, sys.flags.hash_randomization, sys.flags.isolated],
        "main": sorted(name for name in vars(sys.modules["__main__"]) if not name.startswith("__")),
        "session": os.getsid(0) == os.getpid(),
    }


def draws():
    import random
    import numpy
    import torch
    return [random.random(), float(numpy.random.random()), float(torch.rand(1))]


def leave_a_mark():
    import numpy
    import torch
    torch.MARK = numpy.MARK = "left by an earlier student"
    sys.modules["autograder_mark"] = sys
    return True


def marks():
    import numpy
    import torch
    return [hasattr(torch, "MARK"), hasattr(numpy, "MARK"), "autograder_mark" in sys.modules]
'''

ATTACK = '''import ctypes, os, signal

libc = ctypes.CDLL(None, use_errno=True)


def attack(zygote):
    """Everything a student process could try on the zygote; which of them worked."""
    worked = {}
    for name, sig in (("stop", signal.SIGSTOP), ("kill", signal.SIGKILL)):
        try:
            os.kill(zygote, sig)
            worked[name] = True
        except OSError:
            worked[name] = False
    worked["ptrace"] = libc.ptrace(16, zygote, 0, 0) == 0  # PTRACE_ATTACH
    worked["seize"] = libc.ptrace(0x4206, zygote, 0, 0) == 0  # PTRACE_SEIZE
    for name, path, mode in (("write memory", "mem", "r+b"), ("read memory", "mem", "rb"),
                             ("read environment", "environ", "rb"), ("read maps", "maps", "rb")):
        try:
            with open(f"/proc/{zygote}/{path}", mode) as handle:
                handle.read(1)
            worked[name] = True
        except OSError:
            worked[name] = False
    try:
        os.killpg(os.getpgid(zygote), signal.SIGKILL)
        worked["kill group"] = True
    except OSError:
        worked["kill group"] = False
    return worked
'''


@pytest.fixture
def sandbox_of(tmp_path, monkeypatch):
    """``sandbox_of(files, zygote=True)``: a started sandbox over a submission of ``files``, closed afterwards."""
    opened = []

    def make(files: dict[str, str], use_zygote: bool = True, level: isolation.Isolation | None = None):
        monkeypatch.setenv(zygote.VARIABLE, "1" if use_zygote else "0")
        folder = write_submission(tmp_path / f"submission{len(opened)}", files)
        sandbox = Sandbox(folder, level or isolation.probe(), Limits(), test_cpu=60, wall_factor=4,
                          total_seconds=600, preload=PRELOAD)
        opened.append(sandbox)
        sandbox.begin_test()
        sandbox.launch()  # now, while the variable says how
        return sandbox

    yield make
    for sandbox in opened:
        sandbox.close()


def _facts(sandbox) -> dict:
    return json.loads(json.dumps(sandbox.module("probe").facts()).replace(str(sandbox.root), "<root>"))


def _zygote_pids() -> set[int]:
    """The live zygotes of this process for PRELOAD (a test worker also has those of other assignments)."""
    return {z.process.pid for key, z in zygote._zygotes.items() if key[2] == tuple(PRELOAD) and z.alive}


def test_a_forked_student_process_is_what_exec_starts(sandbox_of):
    forked = sandbox_of({"probe.py": PROBE})
    started = sandbox_of({"probe.py": PROBE}, use_zygote=False)
    seen_forked, seen_started = _facts(forked), _facts(started)
    assert isinstance(forked.process.warden, zygote.ForkedWarden)
    assert not isinstance(started.process.warden, zygote.ForkedWarden)
    assert seen_forked["engine"] == [] and seen_forked["libraries"] == ["numpy", "torch"]
    assert seen_forked["tmp"].startswith("<root>") and seen_forked["tasks"] == 1
    for key in seen_forked:
        assert seen_forked[key] == seen_started[key], (key, seen_forked[key], seen_started[key])


def test_each_forked_student_process_draws_fresh_random_numbers_and_inherits_nothing_of_another(sandbox_of):
    first = sandbox_of({"probe.py": PROBE})
    assert first.module("probe").leave_a_mark()
    second = sandbox_of({"probe.py": PROBE})
    assert second.module("probe").marks() == [False, False, False]
    one, two = first.module("probe").draws(), second.module("probe").draws()
    assert one[0] != two[0] and one[1] != two[1]  # Python's and NumPy's global generators: fresh entropy
    assert one[2] == two[2]  # PyTorch's default generator: its fixed default seed, as in a started process


def test_a_student_process_cannot_reach_the_zygote(sandbox_of):
    sandbox = sandbox_of({"attack.py": ATTACK})
    (target,) = _zygote_pids()
    worked = sandbox.module("attack").attack(target)
    assert not any(worked.values()), worked
    time.sleep(0.2)  # a signal that got through has arrived by now
    stat = Path(f"/proc/{target}/stat").read_text()
    assert stat.rpartition(")")[2].split()[0] in "SR", stat  # sleeping or running: neither stopped nor gone
    assert "TracerPid:\t0" in Path(f"/proc/{target}/status").read_text()
    assert _zygote_pids() == {target}
    assert sandbox_of({"probe.py": PROBE}).module("probe").facts()["engine"] == []  # it still forks


def test_a_zygote_that_died_is_started_again(sandbox_of):
    sandbox_of({"probe.py": PROBE}).module("probe").facts()
    (first,) = _zygote_pids()
    os.kill(first, signal.SIGKILL)
    for _ in range(100):
        if not _zygote_pids():
            break
        time.sleep(0.05)
    assert sandbox_of({"probe.py": PROBE}).module("probe").facts()["engine"] == []
    (second,) = _zygote_pids()
    assert second != first


def test_an_unconfined_student_process_is_never_forked_from_the_zygote(sandbox_of, monkeypatch):
    monkeypatch.setenv(isolation.CAP_VARIABLE, "none")
    sandbox = sandbox_of({"probe.py": PROBE}, level=isolation.probe())
    assert sandbox.module("probe").facts()["engine"] == []
    assert not isinstance(sandbox.process.warden, zygote.ForkedWarden)


@pytest.mark.slow
def test_the_reference_gets_the_same_marks_from_forked_and_started_student_processes(monkeypatch):
    scores = {}
    for mode in ("1", "0"):
        monkeypatch.setenv(zygote.VARIABLE, mode)
        report = api.grade(ROOT / "solutions" / "a1", "a1", select="deck or lenet or trace")
        scores[mode] = [(t.outcome.info.function, t.score) for t in report.tests]
    assert scores["1"] == scores["0"] and all(score > 0 for _, score in scores["1"])


@pytest.mark.parametrize("use_zygote", [True, False], ids=["forked", "executed"])
def test_signals_the_grading_process_ignores_are_not_ignored_in_the_student_process(sandbox_of, use_zygote):
    """An ignored signal survives exec (a grader run with nohup ignores SIGHUP): started while this process ignored
    SIGINT and SIGHUP, the zygote and the warden still give student processes the dispositions of an interpreter
    started afresh."""
    zygote.close_all()
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in (signal.SIGINT, signal.SIGHUP)}
    try:
        sandbox = sandbox_of({"probe.py": PROBE}, use_zygote=use_zygote)
        sandbox.module("probe")  # started now, while they are ignored
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    seen = sandbox.module("probe").facts()["signals"]
    assert seen["SIGINT"] == str(signal.default_int_handler) and seen["SIGHUP"] == str(signal.SIG_DFL), seen
    assert seen["SIGPIPE"] == seen["SIGXFSZ"] == str(signal.SIG_IGN), seen


def test_a_warden_whose_zygote_stopped_answering_is_killed_without_waiting_for_it():
    """The zygote says what became of each warden; one that stopped (SIGSTOP) never would. Killing the warden ends
    the wait at once, and a zygote that ended before forking gives no pid to kill."""
    import subprocess
    import sys
    warden = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    status_r, status_w = os.pipe()
    os.write(status_w, f"pid {warden.pid}\n".encode())  # and then nothing: the zygote is stopped
    forked = zygote.ForkedWarden(status_r)
    try:
        assert forked.pid == warden.pid and forked.poll() is None
        with pytest.raises(subprocess.TimeoutExpired):
            forked.wait(timeout=0.2)
        started = time.monotonic()
        forked.kill()
        assert forked.wait() == -signal.SIGKILL and time.monotonic() - started < 5
        assert warden.wait(timeout=5) == -signal.SIGKILL
    finally:
        warden.kill()
        os.close(status_w)
    status_r, status_w = os.pipe()
    os.close(status_w)  # the zygote ended before it forked
    unborn = zygote.ForkedWarden(status_r)
    assert unborn.pid == 0 and unborn.poll() == -signal.SIGKILL
