"""Zip submissions (for example what Otter's ``grader.export()`` writes), unpacked safely for grading.

Only regular files are extracted, each under the target folder: absolute names, ``..`` components and
symbolic links are refused, and the unpacked size and file count are capped before anything is written.
"""
from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from autograder.course import CourseError

MAX_BYTES = 500 * 1024 * 1024
MAX_FILES = 10_000


def is_zip(path: Path) -> bool:
    return path.is_file() and zipfile.is_zipfile(path)


def unpack(archive: Path, into: Path) -> list[Path]:
    """Extract ``archive`` into the folder ``into``; returns the files written. Raises CourseError for an
    archive that is damaged, too large or names a path outside ``into``."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) > MAX_FILES or sum(m.file_size for m in members) > MAX_BYTES:
                raise CourseError(f"{archive.name} unpacks to more than {MAX_FILES} files or "
                                  f"{MAX_BYTES // 2**20} MB; it is not a submission")
            written = []
            for member in members:
                name = PurePosixPath(member.filename.replace("\\", "/"))
                if name.is_absolute() or ".." in name.parts or not name.parts:
                    raise CourseError(f"{archive.name} names a file outside itself ({member.filename!r}); refused")
                if stat.S_ISLNK(member.external_attr >> 16):
                    continue  # a link could point anywhere; a submission needs none
                target = into.joinpath(*name.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as source, open(target, "wb") as sink:
                    sink.write(source.read(MAX_BYTES + 1)[:MAX_BYTES])
                written.append(target)
            return written
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CourseError(f"cannot unpack {archive.name}: {exc}") from None


def module_folder(root: Path, modules: list[str]) -> Path | None:
    """The shallowest folder under ``root`` that holds one of ``modules`` (``name.py``), or None."""
    found = [p.parent for m in modules for p in root.rglob(f"{m}.py") if "__MACOSX" not in p.parts]
    return min(found, key=lambda p: (len(p.parts), str(p))) if found else None
