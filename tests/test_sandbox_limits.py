"""The sandbox's second line: a default-deny system-call filter, one memory and CPU budget for the whole
student tree, and isolation levels defined by what they guarantee on older kernels too.

The attacks of ``tests/hostile/`` that need a listener live in ``test_hostile_submissions.py``; here are the
ones that need a lower limit, a look at the student tree from outside, or another configuration.
"""
from __future__ import annotations

import dataclasses
import time

import pytest

from autograder import api, course
from autograder.runner import cgroups, channel, confine, isolation, remote, syscalls
from conftest import reference_source, write_submission

pytestmark = pytest.mark.slow
FULL = isolation.probe()
needs_full = pytest.mark.skipif(not FULL.at_least("full"),
                                reason=f"needs full isolation; this machine offers {FULL.describe()}")
REFERENCE = reference_source("a1", "conv_arithmetic")
ONE_TEST = "test_conv_deck_examples"


def grade_a1(tmp_path, source: str, **kwargs):
    folder = write_submission(tmp_path / "submission", {"conv_arithmetic.py": source})
    return api.grade(folder, "a1", **kwargs)


# -- system calls -------------------------------------------------------------------------------------------
def test_the_allow_list_is_one_consistent_table():
    allowed = set(syscalls.allowed_names())
    assert not allowed & set(syscalls.REFUSED), "a call both allowed and refused"
    assert not allowed & set(syscalls.CHECKED), "checked calls are allowed only after their check"
    for name in [*allowed, *syscalls.REFUSED, *syscalls.CHECKED]:
        assert name in syscalls.NUMBERS, name
    assert {"io_uring_setup", "io_uring_enter", "io_uring_register", "ptrace", "bpf"} <= set(syscalls.REFUSED)
    for group, (reason, names) in syscalls.ALLOWED.items():
        assert reason and names, group
    for machine in syscalls.ARCHITECTURES:
        program = confine.seccomp_filter(machine)
        assert len(program) // 8 < 4096  # the kernel's limit on one BPF program
        assert syscalls.name_of(syscalls.number("io_uring_setup", machine), machine) == "io_uring_setup"


@needs_full
def test_a_system_call_outside_the_allow_list_fails_that_test_naming_it(tmp_path):
    """The reference, except that conv_output_size first asks for sched_rr_get_interval (in no group):
    the tests that call it fail saying which call, the process is restarted, the other tests pass."""
    source = REFERENCE + ("\n\nimport os as _os\n_reference = conv_output_size\n\n\n"
                          "def conv_output_size(*args, **kwargs):\n    _os.sched_rr_get_interval(0)\n"
                          "    return _reference(*args, **kwargs)\n")
    report = grade_a1(tmp_path, source, select="conv_deck_examples or pool_deck_example or lenet_layer_parameters")
    failed = [t for t in report.tests if t.outcome.status != "passed"]
    passed = [t for t in report.tests if t.outcome.status == "passed"]
    assert failed and passed, [(t.outcome.info.function, t.outcome.status) for t in report.tests]
    for test in failed:
        assert "sched_rr_get_interval" in test.outcome.feedback and "does not allow" in test.outcome.feedback


# -- memory of the whole tree ------------------------------------------------------------------------------
FOUR_CHILDREN = '''
import os, time


def conv_output_size(*args, **kwargs):
    """Four children hold 450 MB each at once; the answer is how many got their memory."""
    read, write = os.pipe()
    children = []
    for _ in range(4):
        pid = os.fork()
        if pid == 0:
            block = bytearray(450 << 20)
            block[::4096] = b"x" * len(block[::4096])
            os.write(write, b"1")
            time.sleep(30)
            os._exit(0)
        children.append(pid)
    os.close(write)
    got, deadline = 0, time.monotonic() + 8
    os.set_blocking(read, False)
    while time.monotonic() < deadline and got < 4:
        try:
            got += len(os.read(read, 4))
        except BlockingIOError:
            time.sleep(0.05)
    for pid in children:
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    return 1000 + got
'''


@pytest.fixture
def small_memory(monkeypatch):
    """A1 with memory_mb = 1500: four children of 450 MB each cannot all hold their memory together."""
    real = course.load_assignment
    monkeypatch.setattr(course, "load_assignment", lambda i: dataclasses.replace(real(i), memory_mb=1500))


@needs_full
@pytest.mark.parametrize("mechanism", ["cgroup", "sampler"])
def test_memory_mb_caps_the_whole_student_tree(tmp_path, monkeypatch, small_memory, mechanism):
    """Each child stays far below the per-process limit; together they pass memory_mb. Where a cgroup memory
    controller exists it caps the tree; elsewhere the warden's sampler stops it."""
    if mechanism == "cgroup" and "memory" not in cgroups.available():
        pytest.skip("no cgroup memory controller here (the sampler variant covers this machine)")
    if mechanism == "sampler":
        real_create = cgroups.create
        monkeypatch.setattr(cgroups, "create", lambda tasks, memory=None: real_create(tasks, None))
    report = grade_a1(tmp_path, FOUR_CHILDREN, select=ONE_TEST, test_timeout=30)
    (test,) = report.tests
    assert "returned 1004" not in test.outcome.feedback, test.outcome.feedback
    assert "1500 MB of memory together" in test.outcome.feedback, test.outcome.feedback


# -- CPU of the whole tree ---------------------------------------------------------------------------------
BURNERS = '''
import threading
import numpy as np


def start(threads):
    """Threads that compute for ever (NumPy releases the GIL: each takes a core)."""
    def burn():
        a = np.random.default_rng(0).random((200, 200))
        while True:
            a = np.tanh(a @ a)
    for _ in range(threads):
        threading.Thread(target=burn, daemon=True).start()
    return threads


def ping():
    return 1
'''


@pytest.fixture
def burners(tmp_path):
    folder = write_submission(tmp_path / "burners", {"burn.py": BURNERS})
    found = isolation.probe()
    sandbox = remote.Sandbox(folder, found, channel.Limits(), test_cpu=60, wall_factor=5, total_seconds=600)
    yield sandbox, sandbox.module("burn")
    sandbox.close()


@needs_full
def test_cpu_used_between_requests_is_charged_to_the_next(burners):
    """Two threads keep computing after their request has returned, while the grader works: once they have
    used 1.5 CPU seconds (however long that takes on a busy machine), the next request of the test is charged
    for them and fails its 1 s limit, though it takes no time itself."""
    sandbox, burn = burners
    sandbox.begin_test(cpu_seconds=1.0)
    start = sandbox.process.cpu_seconds()
    assert burn.start(2) == 2
    deadline = time.monotonic() + 60
    while sandbox.process.cpu_seconds() - start < 1.5 and time.monotonic() < deadline:
        time.sleep(0.1)
    with pytest.raises(remote.SandboxFailure) as failure:
        burn.ping()
    assert failure.value.status == "timeout" and "CPU" in failure.value.feedback


@needs_full
def test_between_tests_the_student_tree_is_frozen(burners):
    """After a test ends nothing of the tree runs: its CPU count stands still until the next request."""
    if "freeze" not in cgroups.available():
        pytest.skip("no cgroup freezer here: CPU used between tests is charged to the next one instead")
    sandbox, burn = burners
    sandbox.begin_test(cpu_seconds=30.0)
    burn.start(2)
    time.sleep(0.5)
    sandbox.end_test()
    before, deadline = sandbox.process.cpu_seconds(), time.monotonic() + 10
    while time.monotonic() < deadline:  # freezing takes effect (cgroup v1 passes through FREEZING)
        time.sleep(0.2)
        now = sandbox.process.cpu_seconds()
        if now - before < 0.01:
            break
        before = now
    time.sleep(1.5)
    assert sandbox.process.cpu_seconds() - before < 0.1
    sandbox.begin_test(cpu_seconds=30.0)
    assert burn.ping() == 1  # let go again at the next request


# -- full isolation on older kernels -------------------------------------------------------------------------
@pytest.mark.parametrize("abi", [1, 4, 6])
def test_full_is_defined_by_guarantees_whatever_the_mechanism(monkeypatch, abi):
    """Withholding the newer Landlock ABIs (as on Linux 5.15 and 6.8) moves each guarantee to the next
    mechanism, or says which is missing and what would give it."""
    monkeypatch.setenv(isolation.LANDLOCK_VARIABLE, str(abi))
    monkeypatch.delenv(isolation.USER_VARIABLE, raising=False)
    found = isolation.probe()
    assert found.landlock_abi == min(abi, confine.landlock_abi())
    named = [m.split(":")[0] for m in found.mechanisms if ":" in m] + [m.split(" (")[0] for m in found.missing]
    assert sorted(named) == sorted(isolation.GUARANTEES), (found.mechanisms, found.missing)
    assert (found.level == "full") == (not found.missing)
    if found.landlock_abi < isolation.FULL_LANDLOCK_ABI and confine.available()["root"]:
        assert found.level == "partial" and [m.split(" (")[0] for m in found.missing] == ["signals"]


@pytest.mark.parametrize("abi", [1, 4])
def test_a_separate_user_gives_full_isolation_without_landlock_scopes(monkeypatch, abi):
    """Grading as root with AUTOGRADER_STUDENT_USER (Gradescope): the user keeps signals and ptrace in,
    the network namespace keeps abstract sockets in, so Linux 5.15 and 6.8 reach full."""
    if not confine.available()["root"] or not FULL.at_least("full"):
        pytest.skip("needs root and a machine that reaches full isolation")
    monkeypatch.setenv(isolation.LANDLOCK_VARIABLE, str(abi))
    monkeypatch.setenv(isolation.USER_VARIABLE, "nobody")
    try:
        found = isolation.probe()
    except isolation.IsolationError as exc:
        pytest.skip(f"the user nobody cannot run this Python here: {exc}")
    assert found.level == "full", found.describe()
    assert any("separate user nobody" in m for m in found.mechanisms)
    assert any("network namespace" in m for m in found.mechanisms)
