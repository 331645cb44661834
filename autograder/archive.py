"""Zip submissions (for example what Otter's ``grader.export()`` writes), unpacked safely for grading.

Only regular files are extracted, each under the target folder: absolute names, ``..`` components and
symbolic links are refused, and the unpacked size and file count are capped before anything is written.
"""
from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from autograder.course import CourseError
from autograder.feedback import T

MAX_BYTES = 500 * 1024 * 1024
MAX_FILES = 10_000


def is_zip(path: Path) -> bool:
    return path.is_file() and zipfile.is_zipfile(path)


def unpack(archive: Path, into: Path, max_files: int | None = None, max_bytes: int | None = None) -> list[Path]:
    """Extract ``archive`` into the folder ``into``; returns the files written. Raises CourseError for an
    archive that is damaged, too large (more than ``max_files`` or ``max_bytes`` unpacked: a submission's
    MAX_FILES and MAX_BYTES unless given) or names a path outside ``into``, in the language in force."""
    max_files = MAX_FILES if max_files is None else max_files
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) > max_files or sum(m.file_size for m in members) > max_bytes:
                raise CourseError(str(T("{zip} unpacks to more than {n} files or {mb} MB; refused",
                                        "{zip} se descomprime en más de {n} archivos o {mb} MB; rechazado")
                                      .format(zip=archive.name, n=max_files, mb=max_bytes // 2**20)))
            written = []
            for member in members:
                name = PurePosixPath(member.filename.replace("\\", "/"))
                if name.is_absolute() or ".." in name.parts or not name.parts:
                    raise CourseError(str(T("{zip} names a file outside itself ({name!r}); refused",
                                            "{zip} nombra un archivo fuera de sí mismo ({name!r}); rechazado")
                                          .format(zip=archive.name, name=member.filename)))
                if stat.S_ISLNK(member.external_attr >> 16):
                    continue  # a link could point anywhere; a submission needs none
                target = into.joinpath(*name.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as source, open(target, "wb") as sink:
                    sink.write(source.read(max_bytes + 1)[:max_bytes])
                written.append(target)
            return written
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CourseError(str(T("cannot unpack {zip}: {why}", "no se puede descomprimir {zip}: {why}")
                              .format(zip=archive.name, why=exc))) from None


def module_folder(root: Path, modules: list[str]) -> Path | None:
    """The shallowest folder under ``root`` that holds one of ``modules`` (``name.py``), or None."""
    found = [p.parent for m in modules for p in root.rglob(f"{m}.py") if "__MACOSX" not in p.parts]
    return min(found, key=lambda p: (len(p.parts), str(p))) if found else None
