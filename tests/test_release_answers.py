"""Releases give no answers away: nothing a release ships, called in place of a stub, gains a point.

The audit (``autograder.answer_audit``) grades the untouched template with shipped callables in place of
its stubs; the planted-leak test shows that it finds a function that answers a task (A4's and A6's old
``reference_tensors``, which shipped with every release until the public graders read precomputed cases).
"""
from __future__ import annotations

import ast
import inspect
import shutil

import numpy as np
import pytest

from autograder import answer_audit, course, release
from autograder.graders import cifar_oracles
from conftest import ROOT

CIFAR_RELEASES = ["a4", "a6"]


@pytest.mark.parametrize("assignment_id", course.available_assignments())
def test_releases_ship_no_hidden_grader_oracle_or_calibration_code(assignment_id):
    shipped = set(release.shipped_modules(course.load_assignment(assignment_id)))
    never = {"autograder.graders.cifar_oracles", "autograder.calibrate", "autograder.release",
             "autograder.answer_audit", "autograder.template", "autograder.nbgrader_gradebook", "autograder.batch",
             "autograder.pages", "autograder.gradescope_export", "autograder.lms_export", "autograder.review",
             "autograder.graders.a1.hidden.oracles"}
    never |= {f"autograder.graders.{a}.{m}" for a in course.available_assignments()
              for m in ("measure", "scratch", "hidden.oracles", "hidden.reference", "hidden.conftest")}
    assert not shipped & never, sorted(shipped & never)
    others = {m for m in shipped if m.startswith("autograder.graders.a") and not m.startswith(
        f"autograder.graders.{assignment_id}.")}
    assert not others, sorted(others)
    assert f"autograder.graders.{assignment_id}.public.test_{assignment_id}_public" in shipped


@pytest.mark.parametrize("assignment_id", CIFAR_RELEASES)
def test_public_to_tensors_cases_are_what_the_oracle_computes(assignment_id):
    stored = np.load(course.load_assignment(assignment_id).suite_dir("public") / cifar_oracles.CASES_FILE)
    fresh = cifar_oracles.public_cases(assignment_id)
    assert sorted(stored.files) == sorted(fresh)
    for key, value in fresh.items():
        np.testing.assert_array_equal(stored[key], value, err_msg=f"{assignment_id}: rerun write_public_cases")


@pytest.mark.slow
@pytest.mark.parametrize("assignment_id", course.available_assignments())
def test_no_shipped_function_in_place_of_a_stub_gains_a_point(assignment_id):
    result = answer_audit.audit(assignment_id)
    assert result.stubs and result.rounds, "the audit has nothing to try"
    assert {s.task for s in result.stubs} == set(course.load_assignment(assignment_id).tasks)  # every task tried
    assert all(r.max_score > 0 for r in result.rounds)
    leaks = [f"{s.qualname} -> {c.module}.{c.name}: {r.scored[s.task]} points of task {s.task}"
             for r in result.leaks for s, c in r.leaks]
    assert not leaks, leaks
    # the confinement refuses the trusted engine: the grader side of every release cannot even be imported
    assert {"autograder.api", "autograder.runner.session", f"autograder.graders.{assignment_id}.conftest"} <= \
        set(result.unimportable)


def _planted_template(tmp_path, assignment_id):
    """The template plus ``leak.py``: the old shipped ``reference_tensors``, as a student would import it."""
    folder = tmp_path / "template"
    shutil.copytree(ROOT / "student_template" / assignment_id, folder)
    source = inspect.getsource(cifar_oracles.reference_tensors)
    (folder / "leak.py").write_text("import numpy as np\nimport torch\n\nMEAN = (0.4913, 0.4821, 0.4465)\n"
                                    "STD = (0.2452, 0.2428, 0.2606)\n\n\n" + source, encoding="utf-8")
    function = ast.parse(source).body[0]
    return folder, answer_audit.Candidate("leak", "reference_tensors", function.args)


@pytest.mark.slow
@pytest.mark.parametrize("assignment_id", CIFAR_RELEASES)
def test_the_audit_finds_a_planted_function_that_answers_a_task(assignment_id, tmp_path):
    folder, leak = _planted_template(tmp_path, assignment_id)
    result = answer_audit.audit(assignment_id, template_dir=folder, extra=[leak], only_extra=True)
    found = {(s.qualname, c.name) for r in result.leaks for s, c in r.leaks}
    assert found == {("to_tensors", "reference_tensors")}, [(r.scored, [s.qualname for s in r.replaced])
                                                             for r in result.rounds]
