"""The class report's flags, each on a submission made to raise it (and never on the reference solution,
the template or independent real-world code), and the similar pairs found by copydetect."""
from __future__ import annotations

import itertools
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from autograder import course, review

ROOT = Path(__file__).resolve().parents[1]
A1, A2, A4 = (course.load_assignment(a) for a in ("a1", "a2", "a4"))


def submission(tmp_path: Path, name: str, source: str, module: str = "conv_arithmetic") -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True)
    (folder / f"{module}.py").write_text(source)
    return folder


def kinds(flags: list[dict]) -> list[str]:
    return [f["kind"] for f in flags]


def solution(assignment: str) -> str:
    spec = course.load_assignment(assignment)
    return (ROOT / "solutions" / assignment / f"{spec.modules[0]}.py").read_text()


@pytest.mark.parametrize("assignment", course.available_assignments())
def test_the_reference_solution_and_the_template_raise_no_flag(assignment):
    spec = course.load_assignment(assignment)
    assert review.static_flags(ROOT / "solutions" / assignment, spec) == []
    assert review.static_flags(ROOT / "student_template" / assignment, spec) == []


def test_a_syntax_error_is_flagged_with_its_file_and_line(tmp_path):
    flags = review.static_flags(submission(tmp_path, "s", solution("a1") + "\ndef broken(:\n    pass\n"), A1)
    assert kinds(flags) == ["syntax error"]
    assert re.fullmatch(r"conv_arithmetic\.py line \d+: invalid syntax", flags[0]["detail"]), flags
    assert kinds(review.static_flags(submission(tmp_path, "nul", "x = 1\0\n"), A1)) == ["syntax error"]


def test_a_missing_module_is_flagged(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    assert review.static_flags(folder, A1) == [{"kind": "missing module", "detail": "no conv_arithmetic.py"}]


def test_a_module_that_is_a_fifo_or_a_link_is_never_read_on_the_trusted_side(tmp_path):
    import os

    fifo, link = tmp_path / "fifo", tmp_path / "link"
    fifo.mkdir()
    os.mkfifo(fifo / "conv_arithmetic.py")  # opening it for reading would block the batch forever
    link.mkdir()
    (link / "conv_arithmetic.py").symlink_to(ROOT / "solutions" / "a1" / "conv_arithmetic.py")
    for folder in (fifo, link):
        assert kinds(review.static_flags(folder, A1)) == ["missing module"]
    assert review.similar_pairs({"fifo": fifo, "link": link, "ref": ROOT / "solutions" / "a1"}, A1) == []


def test_an_import_failure_is_flagged_unless_a_syntax_error_explains_it():
    problem = {"conv_arithmetic": "conv_arithmetic.py could not be imported: ModuleNotFoundError: No module named "
                                  "'cv2'\nmore lines"}
    assert review.import_flags(problem, []) == [{"kind": "import error", "detail": problem["conv_arithmetic"]
                                                .splitlines()[0]}]
    syntax = [{"kind": "syntax error", "detail": "conv_arithmetic.py line 3: invalid syntax"}]
    assert review.import_flags(problem, syntax) == []
    assert review.import_flags({}, []) == []


def test_a_submission_much_larger_than_the_template_is_flagged(tmp_path):
    padding = "".join(f"def helper_{i}(x):\n    return x + {i}\n\n" for i in range(1200))
    flags = review.static_flags(submission(tmp_path, "big", solution("a1") + padding), A1)
    assert kinds(flags) == ["large"] and "x the template" in flags[0]["detail"]
    # four times a tiny template is not "large": the size must also pass LARGE_BYTES
    assert review.static_flags(submission(tmp_path, "ok", solution("a1") + padding[:3000]), A1) == []


@pytest.mark.parametrize("literal", [
    "ANSWERS = '" + "ab" * 6000 + "'",                            # a long string (base64 of stored outputs)
    "ANSWERS = b'" + "\\x00" * 11000 + "'",                       # a bytes literal
    "TABLE = [" + ", ".join(str(i) for i in range(2500)) + "]",    # a flat list of values
    "TABLE = [" + ", ".join(f"[{i}, {i + 1}]" for i in range(1100)) + "]",  # nested: the values are counted
    "LOOKUP = {" + ", ".join(f"({i}, 3): {i}" for i in range(800)) + "}",   # a dict keyed by inputs
])
def test_a_large_literal_blob_is_flagged_once_with_its_line(tmp_path, literal):
    flags = review.static_flags(submission(tmp_path, "blob", solution("a1") + "\n" + literal + "\n"), A1)
    assert [f for f in flags if f["kind"] == "blob"] and len([f for f in flags if f["kind"] == "blob"]) == 1
    line = len(solution("a1").splitlines()) + 2
    assert f"line {line}:" in next(f for f in flags if f["kind"] == "blob")["detail"]


def test_flags_are_read_from_a_zipped_submission_too(tmp_path):
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("export/a1/conv_arithmetic.py", solution("a1") + "\nX = '" + "z" * 12000 + "'\n")
    assert kinds(review.static_flags(archive, A1)) == ["large", "blob"] or kinds(
        review.static_flags(archive, A1)) == ["blob"]
    assert review.static_flags(tmp_path / "missing.zip", A1)[0]["kind"] == "missing module"


def renamed(source: str) -> str:
    """A copy disguised the usual way: identifiers renamed, comments and blank lines changed."""
    for old, new in (("padding", "pd"), ("stride", "st"), ("kernel", "kk"), ("dilation", "dil"), ("size", "sz")):
        source = source.replace(old, new)
    return "\n".join(line + ("  # mine" if i % 3 == 0 else "") for i, line in enumerate(source.splitlines()))


def test_a_disguised_copy_is_paired_and_independent_code_is_not(tmp_path):
    original = solution("a2")
    subs = {"ana": submission(tmp_path, "ana", original, "conv_numpy"),
            "bea": submission(tmp_path, "bea", renamed(original), "conv_numpy"),
            "cid": ROOT / "student_template" / "a2", "dan": ROOT / "student_template" / "a2"}
    pairs = review.similar_pairs(subs, A2)
    assert [p["students"] for p in pairs] == [("ana", "bea")], pairs  # two untouched templates are not a pair
    assert min(pairs[0]["similarity"]) >= review.SIMILAR and pairs[0]["tokens"] >= review.SIMILAR_TOKENS


def test_independent_real_world_training_loops_are_not_paired(tmp_path):
    """Adapters of different public training loops (the PyTorch tutorial, the examples, d2l, Udacity) share
    the course's interface but not their code; a near-copy of one of them (the bug_ variants) is paired."""
    corpus = sorted((ROOT / "tests" / "corpus" / "a4").glob("*.py"))
    subs = {}
    for path in corpus:
        subs[path.stem] = submission(tmp_path, path.stem, path.read_text(), "cifar_cnn")
    pairs = {p["students"] for p in review.similar_pairs(subs, A4)}
    origin = {name: name.removeprefix("bug_") for name in subs}

    def variant(a, b):
        return a != b and (origin[a].startswith(origin[b]) or origin[b].startswith(origin[a]))

    assert all(variant(a, b) for a, b in pairs), pairs
    variants = {(a, b) for a, b in itertools.combinations(sorted(subs), 2) if variant(a, b)}
    assert len(variants) >= 4 and variants <= pairs  # and every variant is found beside its original


def test_unreadable_and_empty_submissions_are_skipped(tmp_path):
    subs = {"empty": tmp_path / "nothing", "binary": submission(tmp_path, "b", "\x00\x01\x02" * 100, "conv_arithmetic"),
            "ref": ROOT / "solutions" / "a1"}
    (tmp_path / "nothing").mkdir()
    assert review.similar_pairs(subs, A1) == []
    assert review.similar_pairs({"ref": ROOT / "solutions" / "a1"}, A1) == []
