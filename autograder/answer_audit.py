"""A release gives no answers away: no function it ships, called in place of a stub, gains a point.

For one assignment (``audit(assignment_id)``):

1. *candidates*: the top-level functions and classes of every engine module its release ships
   (:func:`autograder.release.shipped_modules`), each under the name student code would import it by
   (``sandbox.…`` for the student process's own copy of ``autograder/sandbox``, ``autograder.…`` otherwise);
2. *stubs*: the template's functions and methods whose body raises NotImplementedError;
3. a stub can only be replaced by a candidate that accepts its arguments: any other raises TypeError
   where the stub raised NotImplementedError, and no grader test accepts a TypeError;
4. the student process itself is asked which candidates' modules it can import at all: the confinement
   refuses the trusted engine, so most of them cannot gain anything. Of the rest, the transport between
   the two processes (``sandbox.wire``, ``sandbox.worker``: frames, the codec, the request loop) holds no
   course content; its attacks (forged frames, deserialization tricks) are tests of their own;
5. *rounds*: submission ``r`` is the template with each stub replaced by its ``r``-th remaining candidate
   (``return <candidate>(<the stub's own parameters>)``), graded with the public and hidden tests of the
   tasks that have a replacement. A round that scores a point names a leak. Rounds run two at a time, each in a process of its own.

Replacing several stubs (of different tasks) in one round is what keeps the audit to a few gradings per
assignment; a task's tests call that task's functions, so a replacement elsewhere can only add points.
"""
from __future__ import annotations

import ast
import concurrent.futures
import multiprocessing
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from autograder import api, course, release
from autograder.runner import isolation
from autograder.runner.channel import Limits
from autograder.runner.remote import Sandbox

PROBE = '''import importlib


def importable(names):
    """The module names of ``names`` that this process can import."""
    found = []
    for name in names:
        try:
            importlib.import_module(name)
        except BaseException:
            continue
        found.append(name)
    return found
'''


@dataclass(frozen=True)
class Stub:
    module: str               # student module, for example "cifar_cnn"
    qualname: str             # "fit" or "EarlyStopping.step"
    task: str | None          # the task id whose functions include it
    positional: int           # arguments passed by position (self included)
    keywords: tuple[str, ...]  # keyword-only arguments passed by name


@dataclass(frozen=True)
class Candidate:
    module: str  # import name in the student process
    name: str
    arguments: ast.arguments | None  # None: unknown (a class without its own __init__), assumed to accept anything

    def accepts(self, stub: Stub) -> bool:
        args = self.arguments
        if args is None:
            return True
        positional = [*args.posonlyargs, *args.args]
        if positional and positional[0].arg in ("self", "cls") and self.is_class:
            positional = positional[1:]
        required = len(positional) - len(args.defaults)
        if stub.positional < required or (stub.positional > len(positional) and args.vararg is None):
            return False
        names = {a.arg for a in positional[stub.positional:]} | {a.arg for a in args.kwonlyargs}
        if any(k not in names for k in stub.keywords) and args.kwarg is None:
            return False
        missing = [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is None]
        return all(m in stub.keywords for m in missing)

    is_class: bool = False


@dataclass
class Round:
    replaced: dict[Stub, Candidate]
    score: float
    max_score: float
    scored: dict[str, float]  # task -> points it gained

    @property
    def leaks(self) -> list[tuple[Stub, Candidate]]:
        """The replacements of the tasks that gained points."""
        return [(s, c) for s, c in self.replaced.items() if self.scored.get(s.task)]


@dataclass
class Audit:
    assignment: str
    stubs: list[Stub]
    candidates: list[Candidate]
    unimportable: list[str]    # candidate modules the student process cannot import
    refused_arguments: int     # (stub, candidate) pairs that raise TypeError at the call
    rounds: list[Round]

    @property
    def leaks(self) -> list[Round]:
        return [r for r in self.rounds if r.score > 0]


TRANSPORT = {"sandbox.wire", "sandbox.worker"}


def _import_name(module: str) -> str:
    return module.replace("autograder.sandbox", "sandbox", 1) if module.startswith("autograder.sandbox") else module


def candidates(assignment: course.Assignment) -> list[Candidate]:
    """Top-level functions and classes of the engine modules a release of ``assignment`` ships."""
    found = []
    for module, path in sorted(release.shipped_modules(assignment).items()):
        if module.endswith("__main__"):
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append(Candidate(_import_name(module), node.name, node.args))
            elif isinstance(node, ast.ClassDef):
                found.append(Candidate(_import_name(module), node.name, _constructor(node), is_class=True))
    return found


def _constructor(node: ast.ClassDef) -> ast.arguments | None:
    """The arguments of a class's own ``__init__``, of a dataclass's fields, or None where they are unknown."""
    init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    if init is not None:
        return init.args
    if any("dataclass" in ast.unparse(d) for d in node.decorator_list):
        fields = [n for n in node.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]
        return ast.arguments(posonlyargs=[], args=[ast.arg(f.target.id) for f in fields], vararg=None,
                             kwonlyargs=[], kw_defaults=[], kwarg=None,
                             defaults=[f.value for f in fields if f.value is not None])
    return None


def _raises_not_implemented(node: ast.FunctionDef) -> bool:
    return any(isinstance(n, ast.Raise) and "NotImplementedError" in ast.unparse(n) for n in ast.walk(node))


def _stub(module: str, qualname: str, node: ast.FunctionDef, tasks: dict[str, str]) -> Stub:
    args = node.args
    return Stub(module, qualname, tasks.get(qualname.split(".")[0]) or tasks.get(node.name),
                len(args.posonlyargs) + len(args.args), tuple(a.arg for a in args.kwonlyargs))


def stubs(assignment: course.Assignment, template_dir: Path) -> list[Stub]:
    """The functions and methods of the template's modules that raise NotImplementedError."""
    tasks = {f: t.id for t in assignment.tasks.values() for f in t.functions}
    found = []
    for module in assignment.modules:
        tree = ast.parse((template_dir / f"{module}.py").read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and _raises_not_implemented(node):
                found.append(_stub(module, node.name, node, tasks))
            elif isinstance(node, ast.ClassDef):
                found += [_stub(module, f"{node.name}.{n.name}", n, tasks) for n in node.body
                          if isinstance(n, ast.FunctionDef) and _raises_not_implemented(n)]
    return found


def importable_modules(assignment: course.Assignment, names: list[str]) -> set[str]:
    """Which of the module ``names`` the confined student process of ``assignment`` can import."""
    with tempfile.TemporaryDirectory(prefix="autograder-audit-") as folder:
        Path(folder, "probe.py").write_text(PROBE, encoding="utf-8")
        sandbox = Sandbox(Path(folder), isolation.probe(), Limits(memory_mb=assignment.memory_mb),
                          test_cpu=120, wall_factor=4, total_seconds=600, preload=list(assignment.preload))
        try:
            sandbox.begin_test()
            found = sandbox.module("probe").importable(sorted(names))
        finally:
            sandbox.close()
    return {n for n in found if n in names}


def _call(stub: Stub, node: ast.FunctionDef, candidate: Candidate) -> str:
    args = node.args
    passed = [a.arg for a in [*args.posonlyargs, *args.args]]
    passed += [f"*{args.vararg.arg}"] if args.vararg else []
    passed += [f"{a.arg}={a.arg}" for a in args.kwonlyargs]
    passed += [f"**{args.kwarg.arg}"] if args.kwarg else []
    return (f"return __import__('importlib').import_module({candidate.module!r}).{candidate.name}"
            f"({', '.join(passed)})")


def write_submission(template_dir: Path, replaced: dict[Stub, Candidate], out: Path) -> Path:
    """A copy of the template with each stub of ``replaced`` calling its candidate instead."""
    shutil.copytree(template_dir, out, ignore=shutil.ignore_patterns("__pycache__"))
    by_module: dict[str, dict[str, Candidate]] = {}
    for stub, candidate in replaced.items():
        by_module.setdefault(stub.module, {})[stub.qualname] = candidate
    for module, wanted in by_module.items():
        path = out / f"{module}.py"
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        edits = []
        for node in tree.body:
            members = [(node.name, node)] if isinstance(node, ast.FunctionDef) else (
                [(f"{node.name}.{n.name}", n) for n in node.body if isinstance(n, ast.FunctionDef)]
                if isinstance(node, ast.ClassDef) else [])
            for qualname, function in members:
                if qualname in wanted:
                    body = function.body
                    first = body[1] if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(
                        getattr(body[0], "value", None), ast.Constant) else body[0]
                    indent = " " * first.col_offset
                    stub = next(s for s in replaced if s.module == module and s.qualname == qualname)
                    edits.append((first.lineno - 1, function.end_lineno, indent + _call(stub, function, wanted[qualname])))
        for start, end, text in sorted(edits, reverse=True):
            lines[start:end] = [text]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def _grade(folder: str, assignment_id: str, tasks, test_timeout: float) -> tuple[float, float, dict, float]:
    """One round, in a process of its own: (score, maximum, task -> points gained, seconds)."""
    start = time.monotonic()
    result = api.grade(folder, assignment_id, tasks=tasks, test_timeout=test_timeout, min_isolation="none",
                       shrink=False)
    scored: dict[str, float] = {}
    for test in result.tests:
        if test.score > 0:
            scored[test.outcome.info.task] = scored.get(test.outcome.info.task, 0.0) + test.score
    return result.score, result.max_score, scored, time.monotonic() - start


def audit(assignment_id: str, template_dir: Path | None = None, extra: list[Candidate] = (),
          only_extra: bool = False, test_timeout: float = 10, workers: int = 2, on_round=None) -> Audit:
    """Grade the template with shipped callables in place of its stubs (see the module docstring).

    ``extra`` adds candidates (for example a planted leak, to show the audit finds it); their modules must
    be importable from the submission folder or the student process's path; ``only_extra`` audits them alone.
    ``test_timeout`` (CPU seconds per test) is short: nothing that answers a task needs long."""
    assignment = course.load_assignment(assignment_id)
    root = course.repo_root()
    template_dir = Path(template_dir or root / "student_template" / assignment_id)
    stub_list = stubs(assignment, template_dir)
    pool = list(extra) if only_extra else candidates(assignment) + list(extra)
    reachable = importable_modules(assignment, sorted({c.module for c in pool} - {c.module for c in extra}))
    reachable = (reachable - TRANSPORT) | {c.module for c in extra}
    unimportable = sorted({c.module for c in pool} - reachable - TRANSPORT)
    queues: dict[Stub, list[Candidate]] = {}
    refused = 0
    for stub in stub_list:
        fitting = [c for c in pool if c.module in reachable and c.accepts(stub)]
        refused += sum(1 for c in pool if c.module in reachable and not c.accepts(stub))
        queues[stub] = fitting
    plans = []
    for r in range(max((len(q) for q in queues.values()), default=0)):
        plans.append({stub: queue[r] for stub, queue in queues.items() if r < len(queue)})
    with tempfile.TemporaryDirectory(prefix="autograder-audit-") as scratch, \
            concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = []
        for r, replaced in enumerate(plans):
            folder = write_submission(template_dir, replaced, Path(scratch) / f"round{r}")
            tasks = sorted({s.task for s in replaced if s.task}) or None
            jobs.append(pool.submit(_grade, str(folder), assignment_id, tasks, test_timeout))
        rounds = []
        for r, (replaced, job) in enumerate(zip(plans, jobs)):
            score, max_score, scored, seconds = job.result()
            rounds.append(Round(replaced, score, max_score, scored))
            if on_round:
                on_round(r, seconds, rounds[-1])
    return Audit(assignment_id, stub_list, pool, unimportable, refused, rounds)
