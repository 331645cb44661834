"""What the class report flags for a look by the course staff: submissions that do not parse or import,
that are much larger than the template or carry large literal blobs, and pairs whose code is suspiciously
similar (winnowed fingerprints from ``copydetect``, the template's own code discounted).

Flags never change a score: they are read from the submission's files on the trusted side (never from
anything the student process reports) and shown beside the results for a human to judge.
"""
from __future__ import annotations

import ast
import io
import itertools
import zipfile
from pathlib import Path

from autograder import course

LARGE_FACTOR = 4  # a submission this many times the template's size ...
LARGE_BYTES = 20_000  # ... and at least this large is flagged
BLOB_CHARS = 10_000  # a string or bytes literal this long
BLOB_ELEMENTS = 2_000  # a list/tuple/set/dict display with this many literal values
READ_LIMIT = 2_000_000  # bytes read of one module (a larger one is flagged, never parsed)
SIMILAR = 0.8  # the share of a submission's own code (template discounted) found in another
SIMILAR_TOKENS = 150  # fewer shared tokens than this is never reported (short assignments look alike)
NOISE, GUARANTEE = 25, 30  # copydetect's k-gram length and winnowing guarantee, in tokens
TEMPLATE_ROOT = course.PACKAGE_DIR.parent / "student_template"


def flag(kind: str, detail: str) -> dict:
    return {"kind": kind, "detail": detail}


def module_sources(path: Path, spec: course.Assignment) -> dict[str, bytes | None]:
    """Each module file of the submission ``path`` (a folder, or a zip whose shallowest folder holding a
    module is taken) -> its bytes (at most ``READ_LIMIT`` + 1), or None when it is missing."""
    files = [f"{m}.py" for m in spec.modules]
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if Path(n).name in files and not n.endswith("/")]
                if not names:
                    return dict.fromkeys(files)
                folder = str(Path(min(names, key=lambda n: (n.count("/"), n))).parent)
                found = {}
                for name in files:
                    member = name if folder == "." else f"{folder}/{name}"
                    if member in archive.namelist():
                        with archive.open(member) as stream:
                            found[name] = stream.read(READ_LIMIT + 1)
                    else:
                        found[name] = None
                return found
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError):
            return dict.fromkeys(files)
    found = {}
    for name in files:
        if (path / name).is_symlink() or not (path / name).is_file():  # a FIFO would block, a link lead elsewhere
            found[name] = None
            continue
        try:
            with open(path / name, "rb") as stream:
                found[name] = stream.read(READ_LIMIT + 1)
        except OSError:
            found[name] = None
    return found


def template_sizes(spec: course.Assignment) -> dict[str, int]:
    return {f"{m}.py": _size(TEMPLATE_ROOT / spec.id / f"{m}.py") for m in spec.modules}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def static_flags(path: Path, spec: course.Assignment) -> list[dict]:
    """The flags read from the submission's files: ``missing module``, ``syntax error`` (with the line),
    ``large`` (over ``LARGE_FACTOR`` times the template and ``LARGE_BYTES``), ``blob`` (a literal of over
    ``BLOB_CHARS`` characters or ``BLOB_ELEMENTS`` values)."""
    flags, sizes = [], template_sizes(spec)
    sources = module_sources(path, spec)
    for name, source in sources.items():
        if source is None:
            flags.append(flag("missing module", f"no {name}"))
            continue
        if len(source) > max(LARGE_FACTOR * sizes.get(name, 0), LARGE_BYTES):
            flags.append(flag("large", f"{name} is {_kb(len(source))}"
                                       + (f" ({len(source) / sizes[name]:.0f}x the template)" if sizes.get(name) else "")
                                       if len(source) <= READ_LIMIT else f"{name} is over {_kb(READ_LIMIT)}"))
        if len(source) > READ_LIMIT:
            continue
        try:
            tree = ast.parse(source, filename=name)
        except SyntaxError as exc:
            flags.append(flag("syntax error", f"{name} line {exc.lineno}: {exc.msg}"))
            continue
        except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
            flags.append(flag("syntax error", f"{name}: {type(exc).__name__}"))
            continue
        flags += [flag("blob", f"{name} line {line}: {what}") for line, what in _blobs(tree)]
    return flags


def _kb(size: int) -> str:
    return f"{size / 1000:.0f} KB"


def _blobs(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, description) of each outermost literal that is a blob."""
    found, pending = [], [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)) and len(node.value) > BLOB_CHARS:
            found.append((node.lineno, f"a {type(node.value).__name__} literal of {len(node.value):,} characters"))
            continue
        if isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
            values = sum(isinstance(n, ast.Constant) for n in ast.walk(node))
            if values > BLOB_ELEMENTS:
                found.append((node.lineno, f"a {type(node).__name__.lower()} literal of {values:,} values"))
                continue
        pending.extend(ast.iter_child_nodes(node))
    return sorted(found)


def import_flags(problems: dict[str, str], static: list[dict]) -> list[dict]:
    """An ``import error`` flag per module the student process could not import (``problems``: module ->
    why, as the grading reported it), unless a syntax error already explains it."""
    explained = {f["detail"].split()[0].removesuffix(":") for f in static if f["kind"] == "syntax error"}
    return [flag("import error", why.strip().splitlines()[0][:300] if why.strip() else module)
            for module, why in sorted(problems.items()) if f"{module}.py" not in explained]


def _fingerprint(source: str, boilerplate):
    from copydetect import CodeFingerprint

    return CodeFingerprint("submission.py", NOISE, GUARANTEE - NOISE + 1, boilerplate=boilerplate,
                           fp=io.StringIO(source))


def _joined(sources: dict[str, bytes | None]) -> str:
    return "\n".join(s.decode("utf-8", "replace") for s in sources.values() if s is not None and len(s) <= READ_LIMIT)


def similar_pairs(submissions: dict[str, Path], spec: course.Assignment) -> list[dict]:
    """Pairs of submissions (student -> path) whose code beyond the template is suspiciously similar:
    ``{"students": (a, b), "similarity": (share of a's code found in b, share of b's found in a),
    "tokens": shared tokens}``, most similar first. A pair is listed when either share is at least
    ``SIMILAR`` and they share at least ``SIMILAR_TOKENS`` tokens."""
    import numpy as np
    from copydetect import compare_files

    if len(submissions) < 2:
        return []
    template = _joined({n: _read(TEMPLATE_ROOT / spec.id / n) for n in template_sizes(spec)})
    boilerplate = np.array(sorted(_fingerprint(template, None).hashes)) if template.strip() else None
    prints = {}
    for student, path in sorted(submissions.items()):
        source = _joined(module_sources(path, spec))
        if not source.strip():
            continue
        try:
            printed = _fingerprint(source, boilerplate)
        except Exception:  # a file its lexer cannot read is simply not compared
            continue
        if printed.hashes and printed.token_coverage:
            prints[student] = printed
    pairs = []
    for (a, first), (b, second) in itertools.combinations(prints.items(), 2):
        if len(first.hashes & second.hashes) < SIMILAR / 2 * min(len(first.hashes), len(second.hashes)):
            continue  # too few fingerprints in common for either share to reach SIMILAR (a quick bound)
        tokens, (share_a, share_b), _ = compare_files(first, second)
        if tokens >= SIMILAR_TOKENS and max(share_a, share_b) >= SIMILAR:
            pairs.append({"students": (a, b), "similarity": (round(float(share_a), 3), round(float(share_b), 3)),
                          "tokens": int(tokens)})
    return sorted(pairs, key=lambda p: (-max(p["similarity"]), p["students"]))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None
