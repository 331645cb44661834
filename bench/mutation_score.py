"""Mutation score of the graders: how many single-point bugs in the reference solutions they catch.

Every solution region (``### BEGIN SOLUTION`` ... ``### END SOLUTION``) of
``solutions/<id>/`` is mutated one point at a time: an arithmetic or comparison
operator swapped, an integer constant moved by one, ``and``/``or`` swapped, a
condition negated, a ``raise`` or a call statement (a validation such as
``check_array(...)``) removed. Each mutant is graded (public and hidden
tests, stopping at the first lost test); it is *killed* when it loses a point.
Mutants that cannot change any result are listed, with the reason, in
``bench/equivalent_mutants.toml`` and left out of the score.

    python bench/mutation_score.py              # a1 a2 a3
    python bench/mutation_score.py a3 --list    # only list the mutants
    python bench/mutation_score.py a1 --workers 2 --survivors
"""
from __future__ import annotations

import argparse
import ast
import copy
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EQUIVALENT_FILE = Path(__file__).with_name("equivalent_mutants.toml")

BINARY = {ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div, ast.Add], ast.Div: [ast.Mult, ast.FloorDiv],
          ast.FloorDiv: [ast.Div, ast.Mult], ast.Mod: [ast.FloorDiv], ast.Pow: [ast.Mult], ast.MatMult: [ast.Mult]}
COMPARE = {ast.Lt: [ast.LtE, ast.Gt], ast.LtE: [ast.Lt], ast.Gt: [ast.GtE, ast.Lt], ast.GtE: [ast.Gt],
           ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq], ast.In: [ast.NotIn], ast.NotIn: [ast.In],
           ast.Is: [ast.IsNot], ast.IsNot: [ast.Is]}
SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
          ast.MatMult: "@", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
          ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.And: "and", ast.Or: "or"}


def solution_lines(source: str) -> set[int]:
    """Line numbers (1-based) inside solution regions."""
    lines, inside = set(), False
    for number, line in enumerate(source.splitlines(), 1):
        if "### BEGIN SOLUTION" in line:
            inside = True
        elif "### END SOLUTION" in line:
            inside = False
        elif inside:
            lines.add(number)
    return lines


class Mutator(ast.NodeTransformer):
    """Counts mutation points in solution lines; applies the one numbered ``target`` (None: only count)."""

    def __init__(self, lines: set[int], source_lines: list[str], target: int | None = None):
        self.lines, self.source_lines, self.target = lines, source_lines, target
        self.points: list[str] = []

    def _point(self, node, description: str) -> bool:
        """Register a mutation point; True if it is the one to apply."""
        text = self.source_lines[node.lineno - 1].strip()
        self.points.append(f"line {node.lineno}:{node.col_offset}-{node.end_col_offset} {description}    [{text}]")
        return len(self.points) - 1 == self.target

    def _in_solution(self, node) -> bool:
        return getattr(node, "lineno", None) in self.lines

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if self._in_solution(node):
            for other in BINARY.get(type(node.op), []):
                if self._point(node, f"{SYMBOL[type(node.op)]} -> {SYMBOL[other]}"):
                    node.op = other()
        return node

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        if self._in_solution(node):
            for other in BINARY.get(type(node.op), []):
                if self._point(node, f"{SYMBOL[type(node.op)]}= -> {SYMBOL[other]}="):
                    node.op = other()
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        if self._in_solution(node):
            for index, op in enumerate(list(node.ops)):
                for other in COMPARE.get(type(op), []):
                    if self._point(node, f"{SYMBOL[type(op)]} -> {SYMBOL[other]} (operator {index + 1})"):
                        node.ops[index] = other()
        return node

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        if self._in_solution(node):
            other = ast.Or if isinstance(node.op, ast.And) else ast.And
            if self._point(node, f"{SYMBOL[type(node.op)]} -> {SYMBOL[other]}"):
                node.op = other()
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if self._in_solution(node) and isinstance(node.op, (ast.USub, ast.Not)):
            if self._point(node, f"{'-' if isinstance(node.op, ast.USub) else 'not'} removed"):
                return node.operand
        return node

    def visit_Constant(self, node):
        if self._in_solution(node) and type(node.value) is int:
            for delta in (1, -1):
                if self._point(node, f"{node.value} -> {node.value + delta}"):
                    return ast.copy_location(ast.Constant(node.value + delta), node)
        return node

    def visit_If(self, node):
        self.generic_visit(node)
        if self._in_solution(node):
            if self._point(node, "condition negated"):
                node.test = ast.UnaryOp(ast.Not(), node.test)
        return node

    def visit_Expr(self, node):
        self.generic_visit(node)
        if self._in_solution(node) and isinstance(node.value, ast.Call):
            if self._point(node, "call removed"):
                return ast.copy_location(ast.Pass(), node)
        return node

    def visit_Raise(self, node):
        self.generic_visit(node)
        if self._in_solution(node) and node.exc is not None:
            if self._point(node, "raise removed"):
                return ast.copy_location(ast.Pass(), node)
        return node


def mutants(path: Path) -> list[tuple[str, str]]:
    """(description, mutated source) of every single-point mutant of ``path``'s solution regions."""
    source = path.read_text(encoding="utf-8")
    tree, lines, source_lines = ast.parse(source), solution_lines(source), source.splitlines()
    counter = Mutator(lines, source_lines)
    counter.visit(copy.deepcopy(tree))
    result = []
    for index, description in enumerate(counter.points):
        mutator = Mutator(lines, source_lines, index)
        mutated = ast.fix_missing_locations(mutator.visit(copy.deepcopy(tree)))
        result.append((f"{path.name} {description}", ast.unparse(mutated)))
    return result


def grade_mutant(job) -> tuple[str, bool, str]:
    """(description, killed, by which test) of one mutant."""
    assignment, module, description, source = job
    from autograder import api
    with tempfile.TemporaryDirectory(prefix="mutant-") as folder:
        Path(folder, f"{module}.py").write_text(source, encoding="utf-8")
        report = api.grade(folder, assignment, stop_at_first_failure=True, test_timeout=15)
    lost = [t for t in report.tests if t.outcome.status not in ("passed", "not-run")]
    return description, bool(lost), lost[0].outcome.info.function if lost else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", default=["a1", "a2", "a3"])
    parser.add_argument("--workers", type=int, default=2, help="gradings at once [2]")
    parser.add_argument("--list", action="store_true", help="only list the mutants")
    parser.add_argument("--survivors", action="store_true", help="print every surviving mutant")
    args = parser.parse_args()
    equivalent = tomllib.loads(EQUIVALENT_FILE.read_text()) if EQUIVALENT_FILE.is_file() else {}
    summary = []
    for assignment in args.assignments:
        known = equivalent.get(assignment, {})
        jobs = []
        for path in sorted((ROOT / "solutions" / assignment).glob("*.py")):
            jobs += [(assignment, path.stem, description, source) for description, source in mutants(path)]
        if args.list:
            for job in jobs:
                print(f"{assignment}: {job[2]}" + ("  (equivalent)" if job[2] in known else ""))
            continue
        graded = [job for job in jobs if job[2] not in known]
        start = time.monotonic()
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            results = list(pool.map(grade_mutant, graded))
        survivors = [d for d, killed, _ in results if not killed]
        killed = len(results) - len(survivors)
        score = killed / len(results) if results else 1.0
        summary.append((assignment, len(jobs), len(jobs) - len(graded), killed, len(survivors), score,
                        time.monotonic() - start))
        if args.survivors or survivors:
            for description in survivors:
                print(f"{assignment} survived: {description}")
    if summary:
        print(f"{'assignment':<11}{'mutants':>8}{'equiv.':>8}{'killed':>8}{'survived':>10}{'score':>8}{'time':>8}")
        for assignment, total, equiv, killed, survived, score, seconds in summary:
            print(f"{assignment:<11}{total:>8}{equiv:>8}{killed:>8}{survived:>10}{score:>8.1%}{seconds:>7.0f}s")


if __name__ == "__main__":
    main()
