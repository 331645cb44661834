"""Submissions that attack the grader: they gain nothing, break nothing and leave nothing behind.

The attacks live in ``tests/hostile/`` (one complete A1 module per category, see its
README). Every test here asserts that grading completes, that the attack scores no
points, and that nothing survives it: no process, no large file, no connection, no
private folder. The second half covers accidents and crashes of honest code, which
cost the affected tests only.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from autograder import course, template
from autograder.runner import isolation
from conftest import ROOT, failed_functions, mutate, reference_source, write_submission

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not isolation.probe().at_least("full"),
    reason=f"needs full isolation of the student process; this machine offers {isolation.probe().describe()}")]
HOSTILE = Path(__file__).parent / "hostile"
REFERENCE = reference_source("a1", "conv_arithmetic")
TEMPLATE = (ROOT / "student_template" / "a1" / "conv_arithmetic.py").read_text(encoding="utf-8")
A1 = course.load_assignment("a1")
POINTS = {**A1.points("public"), **A1.points("hidden")}
N_TESTS = len(POINTS)
SAME_PADDING_TESTS = {"test_same_padding_common_kernels", "test_same_padding_keeps_the_size",
                      "test_same_padding_pairs_and_even_kernels"}
SECRETS = template.solution_lines(REFERENCE)
HIDDEN_SOURCE = (A1.suite_dir("hidden") / "test_a1_hidden.py").read_text(encoding="utf-8")
FAST = {"test_timeout": 10}
# The confinement attacks (files, signals, processes, disk, network, io_uring) are graded without shrinking the
# failed property tests' examples: what they meet is the kernel's refusal at every call, and the smallest
# counterexample of their wrong answers says nothing of it (shrinking replayed each attack hundreds of times).
CONFINED = {**FAST, "shrink": False}
# Kernels where courses grade, reached by withholding Landlock ABIs here: what each attack meets must still be
# full isolation, given by other mechanisms (a separate user for signals, a network namespace for abstract
# sockets, seccomp for the rest). The attacks whose defence changes with the kernel (files, signals, network,
# io_uring) run in each of them; the process tree's defence (cgroup, subreaper) does not depend on Landlock.
CONFIGURATIONS = {"newest kernel": {},
                  "Linux 6.8 (Landlock ABI 4)": {"AUTOGRADER_LANDLOCK_ABI": "4", "AUTOGRADER_STUDENT_USER": "nobody"},
                  "Linux 5.15 (Landlock ABI 1)": {"AUTOGRADER_LANDLOCK_ABI": "1", "AUTOGRADER_STUDENT_USER": "nobody"}}


def processes_with(text: str) -> list[int]:
    """Processes whose command line contains ``text``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if text.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                continue
    return found


def large_files(folders, since: float, token: str) -> list[str]:
    found = []
    for folder in folders:
        for path in Path(folder).glob("*"):
            try:
                info = path.stat()
            except OSError:
                continue
            if token in path.name or (path.is_file() and info.st_mtime >= since and info.st_size > 10 << 20):
                found.append(str(path))
    return found


@pytest.fixture(params=list(CONFIGURATIONS))
def kernel(request, monkeypatch, tmp_path):
    """One configuration of CONFIGURATIONS, which must give full isolation (skipped, saying why, where it
    cannot: not root, or the user nobody cannot run this Python)."""
    for name, value in CONFIGURATIONS[request.param].items():
        monkeypatch.setenv(name, value)
    try:
        found = isolation.probe()
    except isolation.IsolationError as exc:
        pytest.skip(f"{request.param}: {exc}")
    if not found.at_least("full"):
        pytest.skip(f"{request.param} is not full isolation here: {found.describe()}")
    if found.uid is not None:  # the separate user must reach this test's private folder (search only)
        for folder in [tmp_path, *tmp_path.parents]:
            folder.chmod(folder.stat().st_mode | 0o001)
    return found


@pytest.fixture
def attack(tmp_path, monkeypatch):
    """``attack(name, **grade_kwargs)``: grade ``tests/hostile/<name>.py`` as A1 and check the aftermath.

    The grading run's private folders go to a temporary folder of this test's own, so the aftermath is this
    grading's alone, whatever other gradings run on the machine at the same time."""
    token = f"hostile{uuid.uuid4().hex[:12]}"
    private = tmp_path / "private"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    start = time.time()
    state = {}

    def grade(name: str, substitutions: dict | None = None, **kwargs):
        from autograder import api
        source = (HOSTILE / f"{name}.py").read_text(encoding="utf-8").replace("TOKEN", token)
        for key, value in sorted((substitutions or {}).items(), key=lambda item: -len(item[0])):
            source = source.replace(key, str(value))  # UDP_PORT before PORT
        folder = write_submission(tmp_path / name, {"conv_arithmetic.py": source})
        report = api.grade(folder, "a1", **kwargs)
        state["report"] = report
        assert "select" in kwargs or len(report.tests) == N_TESTS, "grading did not complete"
        assert report.score == 0, [(t.outcome.info.function, t.outcome.feedback) for t in report.tests if t.score]
        for test in report.tests:
            feedback = test.outcome.feedback
            assert not {line.strip() for line in feedback.splitlines()} & SECRETS, feedback[:500]
            assert "def test_" not in feedback and HIDDEN_SOURCE[:200] not in feedback, feedback[:500]
        return report

    yield grade, token
    time.sleep(0.2)
    assert processes_with(token) == [], "a process started by the submission survived grading"
    assert processes_with(str(private)) == [], "a student process survived grading"
    assert list(private.glob("autograder-*")) == [], "the grading run's private folder was left behind"
    assert large_files(["/tmp", "/var/tmp", "/dev/shm", Path.home()], start, token) == []
    assert not Path(f"/tmp/{token}-pwned").exists()


def test_forging_results_through_any_channel_gains_nothing(attack):
    grade, _ = attack
    report = grade("forge_results")
    assert {t.outcome.status for t in report.tests} == {"failed"}


def test_replacing_grader_library_and_sandbox_objects_gains_nothing(attack):
    grade, _ = attack
    grade("replace_objects")


def test_reading_expected_values_from_stack_gc_or_grader_memory_finds_nothing(attack):
    grade, _ = attack
    report = grade("read_memory")
    feedback = " ".join(t.outcome.feedback for t in report.tests)
    assert "returned -1" in feedback  # every source came back empty


def test_reading_solutions_or_hidden_tests_from_disk_is_refused(kernel, attack):
    grade, _ = attack
    grade("read_files", **CONFINED)


def test_feedback_carries_no_grader_text(attack):
    grade, _ = attack
    report = grade("exfiltrate")
    assert all("nothing readable" in t.outcome.feedback for t in report.tests if "ValueError" in t.outcome.feedback)


def test_signalling_or_tracing_the_grader_is_refused(kernel, attack):
    """Every pid gets SIGSTOP and SIGKILL: the grader, its parent and the zygote the student process was forked
    from (``autograder.runner.zygote``, which later student processes are forked from) go on as they were."""
    from autograder.runner import channel, zygote
    grade, _ = attack
    forks = channel.student_zygote(A1.preload, A1.threads) if zygote.enabled() else None
    report = grade("signal_grader", **CONFINED)
    assert os.getppid() > 1  # this test process and its parent are alive and running
    assert {t.outcome.status for t in report.tests} <= {"failed", "crashed", "timeout"}
    if forks is not None:
        state = Path(f"/proc/{forks.process.pid}/stat").read_text().rpartition(")")[2].split()[0]
        assert forks.alive and state in "SR", state  # neither killed nor stopped
        assert channel.student_zygote(A1.preload, A1.threads) is forks  # the same one, never started again


def test_detached_forked_processes_and_a_fork_bomb_die_with_the_student_process(attack):
    grade, _ = attack
    report = grade("spawn_processes", test_timeout=3, shrink=False)
    bomb = [t.outcome for t in report.tests if t.outcome.info.function in SAME_PADDING_TESTS]
    assert {o.status for o in bomb} == {"timeout"}


def test_filling_the_disk_is_capped(attack):
    grade, token = attack
    report = grade("fill_disk", **CONFINED)
    feedback = " ".join(t.outcome.feedback for t in report.tests)
    assert "MB" in feedback  # the scratch cap or the file size limit was named



@pytest.mark.parametrize("mode, message", [("strings", "more characters"), ("flood", "bytes of JSON"),
                                           ("count", "more than 1,000,000 values"), ("values", "[[], [], [],")])
def test_huge_replies_cannot_exhaust_the_grader_and_feedback_stays_small(attack, mode, message):
    """Every function returns an 8 MB string, 16 million empty lists, too many values, or the most values a
    reply may hold: the grading completes, the floods are refused before any Python object is built (a
    protocol error of the test in progress), and each test's feedback, results.json and the feedback page
    keep their stated maximum sizes (the trusted side's memory and time: bench/worst_reply.py)."""
    from autograder import pages, report as reports
    from autograder.feedback import MAX_FEEDBACK
    grade, _ = attack
    report = grade("huge_replies", {"MODE": mode}, select="deck or lenet or same_padding_common", **FAST)
    assert len(report.tests) >= 5
    assert all(len(t.outcome.feedback) <= MAX_FEEDBACK + 100 for t in report.tests)
    results = reports.gradescope(report)
    size = len(json.dumps(results))
    assert size <= len(report.tests) * (MAX_FEEDBACK + 1000) + 20_000, size
    page = pages.feedback_page(results, A1, published=True)
    assert len(page) <= 2 * size + 200_000, len(page)
    assert message in " ".join(t.outcome.feedback for t in report.tests), report.tests[0].outcome.feedback[:300]


@pytest.fixture
def listeners():
    """A TCP and a UDP socket on 127.0.0.1 and an abstract Unix socket, all waiting for a visitor."""
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    tcp.settimeout(0.5)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.5)
    name = f"autograder-test-{uuid.uuid4().hex[:8]}"
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(b"\0" + name.encode())
    unix.listen()
    unix.settimeout(0.5)
    yield {"PORT": tcp.getsockname()[1], "UDP_PORT": udp.getsockname()[1], "ABSTRACT": name}, (tcp, udp, unix)
    for s in (tcp, udp, unix):
        s.close()


def test_no_network_at_all(kernel, attack, listeners):
    grade, _ = attack
    substitutions, (tcp, udp, unix) = listeners
    grade("network", substitutions, shrink=False)
    for server in (tcp, unix):
        with pytest.raises(socket.timeout):
            server.accept()
    with pytest.raises(socket.timeout):
        udp.recvfrom(100)



def test_sockets_through_io_uring_are_refused(kernel, attack, listeners, monkeypatch):
    """io_uring can create sockets (IORING_OP_SOCKET) without the socket() call a filter would see: a UDP
    datagram to a listener here, a netlink and a raw socket. The allow-list has no io_uring at all. Without
    the filter (partial isolation) the same attack reaches the listener: it is a real attack."""
    grade, token = attack
    substitutions, (_, udp, _) = listeners
    report = grade("io_uring", substitutions, **CONFINED)
    feedback = " ".join(t.outcome.feedback for t in report.tests)
    assert "returned -1" in feedback and "returned 10" not in feedback, feedback[:500]
    with pytest.raises(socket.timeout):
        udp.recvfrom(100)
    if Path("/proc/sys/kernel/io_uring_disabled").read_text().strip() != "0" or kernel.uid is not None:
        return  # io_uring is off here anyway, or the control has been made in the newest configuration
    monkeypatch.setenv(isolation.CAP_VARIABLE, "partial")
    report = grade("io_uring", substitutions, min_isolation="partial", select="test_conv_deck_examples", **CONFINED)
    assert "returned 10" in report.tests[0].outcome.feedback
    assert udp.recvfrom(100)[0] == token.encode()

def test_values_that_lie_about_type_or_equality_score_nothing(attack):
    grade, _ = attack
    report = grade("lying_values")
    feedback = {t.outcome.info.function: t.outcome.feedback for t in report.tests}
    assert "LyingInt object" in feedback["test_same_padding_common_kernels"]


def test_deserialization_tricks_and_forged_frames_are_refused(attack):
    grade, _ = attack
    report = grade("deserialization", test_timeout=3)  # half a frame, then silence: the wall backstop ends it
    feedback = " ".join(t.outcome.feedback for t in report.tests)
    assert "Payload object" in feedback  # the object stayed in the student process


# -- accidents and crashes: they cost the tests they touch, never the run -------------------------
def at_import(code: str) -> str:
    """The reference with ``code`` run when the module is imported."""
    return mutate(REFERENCE, "import math\n", f"import math\n{code}\n")


def in_same_padding(code: str) -> str:
    """The reference with ``code`` run at the start of same_padding."""
    return mutate(REFERENCE, '    ### BEGIN SOLUTION\n    ks, ds = as_pair(', f'    {code}\n    ### BEGIN SOLUTION\n    ks, ds = as_pair(')


def assert_all_fail_with(report, text):
    assert report.score == 0 and len(report.tests) == N_TESTS
    for test in report.tests:
        assert text in test.outcome.feedback, test.outcome.feedback


def assert_only_same_padding_lost(report, text, status=None):
    assert failed_functions(report) == SAME_PADDING_TESTS
    assert report.score == report.max_score - sum(POINTS[f] for f in SAME_PADDING_TESTS)
    for test in report.tests:
        if test.outcome.status != "passed":
            assert text in test.outcome.feedback, test.outcome.feedback
            assert status is None or test.outcome.status == status


def test_syntax_error_fails_every_test_naming_the_line(grade_files):
    report = grade_files({"conv_arithmetic.py": REFERENCE + "\ndef broken(:\n    pass\n"})
    assert_all_fail_with(report, "conv_arithmetic.py has a syntax error at line")
    assert "syntax error" in report.problems["conv_arithmetic"]


def test_missing_module_file_is_refused_naming_what_the_folder_holds(grade_files):
    with pytest.raises(course.CourseError, match=r"no a1 module \(conv_arithmetic.py\) in .*; it holds notes.txt"):
        grade_files({"notes.txt": "I forgot the module"})


def test_missing_function_costs_only_its_tests(grade_files):
    report = grade_files({"conv_arithmetic.py": mutate(REFERENCE, "def same_padding(", "def same_pad(")})
    assert_only_same_padding_lost(report, "has no function same_padding")


def test_wrong_return_type_is_named(grade_files):
    source = mutate(REFERENCE, "(k_h * k_w * in_channels // groups + int(bool(bias))) * out_channels",
                    "(k_h * k_w * in_channels / groups + int(bool(bias))) * out_channels")
    report = grade_files({"conv_arithmetic.py": source})
    assert failed_functions(report) == {"test_lenet_layer_parameters", "test_conv_parameters_match_pytorch",
                                        "test_parameter_counts_reject_impossible_layers"}
    feedback = next(t.outcome.feedback for t in report.tests if t.outcome.info.function == "test_lenet_layer_parameters")
    assert "returned 456.0 of type float; expected 456 of type int" in feedback


def test_endless_loop_in_one_function_times_out_only_there(grade_files):
    report = grade_files({"conv_arithmetic.py": in_same_padding("while True: pass")}, test_timeout=3)
    assert_only_same_padding_lost(report, "did not finish within the time limit of 3 s of CPU time", "timeout")


def test_a_silent_function_is_stopped_by_the_wall_clock_backstop(grade_files):
    report = grade_files({"conv_arithmetic.py": in_same_padding("import time; time.sleep(10 ** 6)")},
                         test_timeout=1)
    assert_only_same_padding_lost(report, "it stopped answering", "timeout")


def test_endless_loop_at_import(grade_files):
    report = grade_files({"conv_arithmetic.py": at_import("while True: pass")}, test_timeout=3)
    assert_all_fail_with(report, "Importing conv_arithmetic.py failed: it did not finish within the time limit")


def test_sys_exit_at_import(grade_files):
    report = grade_files({"conv_arithmetic.py": at_import("import sys; sys.exit(3)")})
    assert_all_fail_with(report, "calls sys.exit(3) when it is imported")


def test_os_exit_at_import(grade_files):
    report = grade_files({"conv_arithmetic.py": at_import("import os; os._exit(0)")})
    assert_all_fail_with(report, "Importing conv_arithmetic.py failed: the Python process ended abruptly (exit code 0)")


def test_os_exit_inside_one_function_costs_only_its_tests(grade_files):
    report = grade_files({"conv_arithmetic.py": in_same_padding("import os; os._exit(1)")}, language="es")
    assert_only_same_padding_lost(report, "el proceso de Python terminó de golpe (código 1)", "crashed")


def test_sigkill_of_the_student_process_costs_only_the_test_in_progress(grade_files):
    report = grade_files({"conv_arithmetic.py": in_same_padding("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")})
    assert_only_same_padding_lost(report, "signal SIGKILL", "crashed")


def test_sys_exit_inside_a_function_is_explained(grade_files):
    report = grade_files({"conv_arithmetic.py": in_same_padding("import sys; sys.exit('done')")})
    assert_only_same_padding_lost(report, "called sys.exit('done') while being graded")


def test_memory_exhaustion_costs_only_its_tests(grade_files):
    report = grade_files({"conv_arithmetic.py": in_same_padding("hog = bytearray(64 * 1024 ** 3)")})
    assert_only_same_padding_lost(report, "ran out of memory")


def test_a_flood_of_output_costs_nothing(grade_files):
    flood = "import sys\nfor _ in range(200): sys.stdout.write('x' * (1 << 18) + chr(10))\n"
    report = grade_files({"conv_arithmetic.py": at_import(flood)}, suites=("public",))
    assert report.score == report.max_score


def test_garbage_on_the_wire_costs_only_the_test_in_progress(grade_files):
    garbage = ("import os\n    for fd in range(3, 1024):\n        try:\n            os.write(fd, b'garbage' * 100)\n"
               "        except OSError:\n            pass")
    report = grade_files({"conv_arithmetic.py": in_same_padding(garbage)})
    assert_only_same_padding_lost(report, "This test scores 0")


def test_an_exception_from_del_changes_nothing(grade_files):
    source = in_same_padding("class Bad:\n        def __del__(self):\n            raise RuntimeError('boom')\n"
                             "    Bad()")
    assert grade_files({"conv_arithmetic.py": source}).score == sum(POINTS.values())


def test_fake_test_report_printed_and_written_changes_nothing(grade_files):
    fake = ("print('=' * 20 + ' 19 passed in 0.10s ' + '=' * 20)\n"
            "import json, os\n"
            "open('results.json', 'w').write(json.dumps({'score': 35, 'tests': []}))\n")
    report = grade_files({"conv_arithmetic.py": fake + TEMPLATE})
    assert report.score == 0 and len(report.tests) == N_TESTS


def test_cli_exits_zero_with_valid_gradescope_json_for_a_crashing_submission(tmp_path):
    folder = write_submission(tmp_path / "sub", {"conv_arithmetic.py": at_import("import os; os._exit(7)")})
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(folder), "-a", "a1", "--json", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert results["score"] == 0 and len(results["tests"]) == N_TESTS
    assert {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"} <= set(results)
    for test in results["tests"]:
        assert {"name", "number", "score", "max_score", "status", "output", "visibility"} <= set(test)
        assert test["status"] == "failed" and "exit code 7" in test["output"]


def test_overall_time_limit_marks_the_rest_not_run(grade_files):
    report = grade_files({"conv_arithmetic.py": in_same_padding("while True: pass")}, test_timeout=3, total_timeout=6)
    statuses = [t.outcome.status for t in report.tests]
    assert "timeout" in statuses and "not-run" in statuses
    assert statuses[:3] == ["passed"] * 3  # graded before the loop started
    not_run = next(t for t in report.tests if t.outcome.status == "not-run")
    assert "overall time limit of 6 s" in not_run.outcome.feedback and not_run.score == 0
