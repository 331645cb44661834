"""Zip submissions (Otter's ``grader.export()``, a student's own zip) are graded like folders, safely."""
from __future__ import annotations

import json
import stat
import subprocess
import sys
import zipfile

import pytest

from autograder import api
from conftest import ROOT, reference_source

SOLUTION = reference_source("a1", "conv_arithmetic")


def make_zip(path, files: dict[str, str]):
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


@pytest.mark.slow
def test_an_otter_export_zip_gets_the_folders_marks_through_the_cli(tmp_path):
    archive = make_zip(tmp_path / "a1_lab_2026_12_01T10_00_00.zip",
                       {"a1_lab.ipynb": "{}", "conv_arithmetic.py": SOLUTION, ".OTTER_LOG": "\x80not read",
                        "__zip_filename__": "a1_lab_2026_12_01T10_00_00.zip"})
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(archive), "-a", "a1", "--json", str(out),
                           "--allow-isolation", "none"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) > 0


@pytest.mark.slow
def test_a_zip_with_the_module_in_a_subfolder_is_found(tmp_path):
    archive = make_zip(tmp_path / "student.zip", {"a1/conv_arithmetic.py": SOLUTION, "a1/notes.txt": "hi"})
    report = api.grade(archive, "a1", tasks=["1.3"], min_isolation="none")
    assert report.score == report.max_score > 0 and report.submission == str(archive)


def test_a_zip_without_the_module_is_refused_naming_what_it_holds(tmp_path):
    archive = make_zip(tmp_path / "wrong.zip", {"lab.ipynb": "{}", "other.py": "x = 1"})
    with pytest.raises(api.CourseError, match=r"wrong.zip holds no a1 module \(conv_arithmetic.py\); it holds lab.ipynb"):
        api.grade(archive, "a1")


@pytest.mark.parametrize("name", ["../escape.py", "/abs/conv_arithmetic.py", "a/../../conv_arithmetic.py"])
def test_a_zip_naming_a_path_outside_itself_is_refused(tmp_path, name):
    archive = make_zip(tmp_path / "evil.zip", {name: SOLUTION})
    with pytest.raises(api.CourseError, match="names a file outside itself"):
        api.grade(archive, "a1")
    assert not (tmp_path / "escape.py").exists()


def test_links_in_a_zip_are_not_followed(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        link = zipfile.ZipInfo("conv_arithmetic.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(api.CourseError, match="holds no a1 module"):
        api.grade(archive, "a1")


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    from autograder import archive as archive_module

    monkeypatch.setattr(archive_module, "MAX_BYTES", 1000)
    archive = make_zip(tmp_path / "bomb.zip", {"conv_arithmetic.py": "#" * 5000})
    with pytest.raises(api.CourseError, match="unpacks to more than"):
        api.grade(archive, "a1")


def test_a_damaged_zip_or_another_file_is_a_clear_error(tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(api.CourseError, match="neither a folder nor a zip file"):
        api.grade(tmp_path / "broken.zip", "a1")
