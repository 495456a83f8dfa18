"""Mutation testing of the reference solutions: do the tests catch the mistakes learners make?

    .venv/bin/python benchmarks/mutants.py [SECTION ...] [-j N] [--survivors] [--check]

For every solution region (between ``### BEGIN SOLUTION`` and ``### END SOLUTION``) of every source
notebook under notebooks/, the tool makes small AST mutants of the reference (a statement deleted,
``send`` for ``sendall``, a constant off by one, a comparison flipped, an ``except`` broadened or dropped,
a ``with`` dropped, ...) and runs each against its exercise's visible and hidden test cells, taken from
the source notebook. A mutant is *killed* when a test cell raises or writes to stderr (nbgrader's rule
for a failed cell), or when it overruns its deadline. Survivors are missing tests, unless no input the
task text allows can tell them from the reference: those are listed, with a one-line reason each, in
tests/mutants_equivalent.json and left out of the non-equivalent kill rate.

Speed: nbgrader is never run per mutant. One warm Python process per share of a notebook (its exercises
in runs of at most --share mutants, so a big notebook is spread over several workers) runs the
notebook's cells in order (imports, examples, the reference solutions); at each exercise of its share it
forks one child per mutant, -j at a time, which executes the mutated solution cell and the exercise's
test cells under a hard deadline and is killed with its process group if it overruns. Most mutants
wait (on a check's deadline) rather than compute, so more of them run at once than there are cores.

The honesty harness (tests/test_honesty.py) uses the same workers with --cell-timeout: no mutants; the
reference and every wrong answer run alone, every test cell as nbgrader runs it, each failed cell listed.

Goal (issue 11): >= 95 % of non-equivalent mutants killed in every section and >= 90 % of all mutants;
``--check`` exits 1 below the goal (CI runs it through tests/test_honesty.py::test_tests_kill_the_mutants).
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import hashlib
import io
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import answers as catalogue  # noqa: E402  (the catalogue of answers: tests/wrong_answers, tests/correct_answers)

NOTEBOOKS = REPO / "notebooks"
EQUIVALENT = REPO / "tests" / "mutants_equivalent.json"
GOAL_SECTION, GOAL_ALL = 0.95, 0.90
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"

# ---------------------------------------------------------------------------------------------------
# Mutation operators. Each site is (operator name, a function that applies the mutation in place).
# Sites are enumerated in a fixed order, so the k-th site of a fresh parse is the same node every time.

SWAPPED_METHODS = {"send": "sendall", "sendall": "send", "recv": "recv_into", "sendto": "send",
                   "accept": "listen", "listen": "accept", "shutdown": "close", "close": "detach",
                   "dup": "detach", "detach": "dup", "flush": "close", "readline": "read"}
SWAPPED_NAMES = {"AF_INET": "AF_INET6", "AF_INET6": "AF_INET", "SOCK_STREAM": "SOCK_DGRAM",
                 "SOCK_DGRAM": "SOCK_STREAM", "SHUT_WR": "SHUT_RDWR", "SHUT_RDWR": "SHUT_WR",
                 "SO_REUSEADDR": "SO_KEEPALIVE", "TCP_NODELAY": "SO_KEEPALIVE", "MSG_PEEK": "MSG_WAITALL",
                 "ConnectionRefusedError": "ConnectionError", "TimeoutError": "OSError",
                 "ECONNREFUSED": "ECONNRESET", "BaseException": "Exception", "OverflowError": "ValueError",
                 "ValueError": "OverflowError"}
FLIPPED_COMPARE = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
                   ast.GtE: ast.Gt, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
FLIPPED_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
                 ast.FloorDiv: ast.Mult, ast.Pow: ast.Mult, ast.BitOr: ast.BitAnd, ast.BitAnd: ast.BitOr,
                 ast.Mod: ast.FloorDiv}


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _strings_in(node: ast.AST) -> set[int]:
    """ids of the nodes inside f-strings (error messages): mutating them only rewords an error."""
    inside: set[int] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.JoinedStr):
            inside.update(id(m) for m in ast.walk(n))
    return inside


def sites(tree: ast.Module, lines: range):
    """Yield (operator, apply) for every mutation site whose node starts inside `lines`."""
    skip = _strings_in(tree)

    # a recv buffer size of 1 KiB or more: one byte more or less is the same program (equivalent mutants)
    buffers = {id(n.args[0]) for n in ast.walk(tree) if isinstance(n, ast.Call) and n.args
               and isinstance(n.func, ast.Attribute) and n.func.attr.startswith("recv")
               and isinstance(n.args[0], ast.Constant) and isinstance(n.args[0].value, int)
               and n.args[0].value >= 1024}

    def inside(node: ast.AST) -> bool:
        return getattr(node, "lineno", -1) in lines and id(node) not in skip

    for node, replace in _walk(tree):
        # statement lists: delete a statement; drop a `with` (keep its body); unwrap a try
        for name in ("body", "orelse", "finalbody"):
            body = getattr(node, name, None)
            if not isinstance(body, list):
                continue
            for i, stmt in enumerate(body):
                if not isinstance(stmt, ast.stmt) or not inside(stmt) or _is_docstring(stmt):
                    continue
                if not isinstance(stmt, ast.Pass):
                    yield "delete", (lambda body=body, i=i: body.__setitem__(i, ast.Pass()))
                if isinstance(stmt, ast.With):
                    for j in range(len(stmt.items)):
                        def drop_with(body=body, i=i, j=j):
                            w = body[i]  # noqa: PLR1736 (read when the mutation is applied)
                            chosen = w.items[j]
                            bind = ([ast.Assign(targets=[chosen.optional_vars], value=chosen.context_expr, lineno=0)]
                                    if chosen.optional_vars is not None else [ast.Expr(chosen.context_expr)])
                            rest = [it for k, it in enumerate(w.items) if k != j]
                            body[i:i + 1] = bind + ([ast.With(items=rest, body=w.body)] if rest else w.body)
                        yield "drop_with", drop_with
            if name == "orelse" and body and inside(body[0]) and not isinstance(node, ast.IfExp):
                yield "drop_else", (lambda node=node: setattr(node, "orelse", []))
        if isinstance(node, ast.Try) and inside(node):
            for j, handler in enumerate(node.handlers):
                t = handler.type
                if not (isinstance(t, ast.Name) and t.id in ("Exception", "BaseException")):
                    yield "broaden_except", (lambda h=handler: setattr(h, "type", ast.Name("Exception")))
                if len(node.handlers) > 1 or node.finalbody:
                    yield "drop_except", (lambda node=node, j=j: node.handlers.pop(j))
                if isinstance(t, ast.Tuple) and len(t.elts) > 1:
                    for k in range(len(t.elts)):
                        yield "narrow_except", (lambda t=t, k=k: t.elts.pop(k))
        if not inside(node):
            continue
        if isinstance(node, ast.Attribute):
            if node.attr in SWAPPED_METHODS:
                yield "method", (lambda n=node: setattr(n, "attr", SWAPPED_METHODS[n.attr]))
            if node.attr in SWAPPED_NAMES:
                yield "name", (lambda n=node: setattr(n, "attr", SWAPPED_NAMES[n.attr]))
        elif isinstance(node, ast.Name) and node.id in SWAPPED_NAMES:
            yield "name", (lambda n=node: setattr(n, "id", SWAPPED_NAMES[n.id]))
        elif isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool):
                yield "bool", (lambda n=node: setattr(n, "value", not n.value))
            elif isinstance(v, int) and id(node) not in buffers:
                yield "const+1", (lambda n=node: setattr(n, "value", n.value + 1))
                yield "const-1", (lambda n=node: setattr(n, "value", n.value - 1))
            elif isinstance(v, float):
                yield "const*2", (lambda n=node: setattr(n, "value", n.value * 2))
                yield "const=0", (lambda n=node: setattr(n, "value", 0.0))
            elif isinstance(v, bytes) and v:
                yield "bytes", (lambda n=node: setattr(n, "value", n.value[:-1]))
        elif isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                if type(op) in FLIPPED_COMPARE:
                    yield "compare", (lambda n=node, k=k: n.ops.__setitem__(k, FLIPPED_COMPARE[type(n.ops[k])]()))
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in FLIPPED_BINOP:
            yield "binop", (lambda n=node: setattr(n, "op", FLIPPED_BINOP[type(n.op)]()))
        elif isinstance(node, ast.BoolOp):
            yield "boolop", (lambda n=node: setattr(n, "op", ast.Or() if isinstance(n.op, ast.And) else ast.And()))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and replace:
            yield "drop_not", (lambda n=node, replace=replace: replace(n.operand))
        elif isinstance(node, (ast.Break, ast.Continue)) and replace:
            yield "break_continue", (lambda n=node, replace=replace: replace(
                ast.Continue() if isinstance(n, ast.Break) else ast.Break()))
        elif isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            yield "return_none", (lambda n=node: setattr(n, "value", None))
        elif isinstance(node, ast.Call):
            commutative = isinstance(node.func, ast.Name) and node.func.id in ("min", "max")
            if len(node.args) >= 2 and not commutative and not any(isinstance(a, ast.Starred) for a in node.args[:2]):
                yield "swap_args", (lambda n=node: n.args.__setitem__(slice(0, 2), n.args[1::-1][:2]))
            for k, kw in enumerate(node.keywords):
                if kw.arg is not None:
                    yield "drop_keyword", (lambda n=node, k=k: n.keywords.pop(k))
        elif isinstance(node, (ast.If, ast.While)):
            yield "negate", (lambda n=node: setattr(n, "test", ast.UnaryOp(ast.Not(), n.test)))
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            s = node.slice
            for part in ("lower", "upper"):
                if getattr(s, part) is not None:
                    yield "drop_slice", (lambda s=s, part=part: setattr(s, part, None))


def _walk(tree: ast.AST):
    """Every node (breadth first, like ast.walk) with a function that replaces it in its parent."""
    todo = [(tree, None)]
    while todo:
        node, replace = todo.pop(0)
        yield node, replace
        for name, value in ast.iter_fields(node):
            if isinstance(value, ast.AST):
                todo.append((value, lambda new, node=node, name=name: setattr(node, name, new)))
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        todo.append((item, lambda new, value=value, i=i: value.__setitem__(i, new)))


def solution_lines(source: str) -> range | None:
    lines = source.splitlines()
    starts = [i + 1 for i, line in enumerate(lines) if BEGIN in line]
    ends = [i + 1 for i, line in enumerate(lines) if END in line]
    return range(starts[0] + 1, ends[0]) if starts and ends else None


@dataclass
class Mutant:
    id: str
    op: str
    source: str
    diff: str


def mutants(grade_id: str, source: str) -> list[Mutant]:
    """Every distinct mutant of one solution cell's region, with a stable id and a one-line diff."""
    region = solution_lines(source)
    if region is None:
        return []
    original = ast.unparse(ast.parse(source))
    count = sum(1 for _ in sites(ast.parse(source), region))
    seen = {original}
    found = []
    for k in range(count):
        tree = ast.parse(source)
        op, apply = list(sites(tree, region))[k]
        apply()
        try:
            text = ast.unparse(ast.fix_missing_locations(tree))
            compile(text, "<mutant>", "exec")
        except (SyntaxError, ValueError, TypeError, AttributeError):
            continue
        if text in seen:
            continue
        seen.add(text)
        digest = hashlib.sha1(text.encode()).hexdigest()[:10]
        found.append(Mutant(f"{grade_id}:{op}:{digest}", op, text, one_line_diff(original, text)))
    return found


def one_line_diff(before: str, after: str) -> str:
    a, b = before.splitlines(), after.splitlines()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag != "equal":
            old = a[i1].strip() if i1 < i2 else ""
            new = b[j1].strip() if j1 < j2 else "(deleted)"
            return f"L{i1 + 1}: {old}  ->  {new}"
    return "(no change)"


# ---------------------------------------------------------------------------------------------------
# The warm worker: one per notebook.


@dataclass
class Exercise:
    grade_id: str
    solution: str
    tests: list[tuple[str, str]]  # (grade_id, source) of its graded cells, in order


def read_notebook(path: Path):
    """The notebook's code cells in order, as ("plain"|"solution"|"test", grade_id, source)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {}) or {}
        if meta.get("grade"):
            cells.append(("test", meta.get("grade_id", ""), cell.source))
        elif meta.get("solution"):
            cells.append(("solution", meta.get("grade_id", ""), cell.source))
        else:
            cells.append(("plain", meta.get("grade_id", ""), cell.source))
    return cells


def run_cells(ns: dict, sources, stderr_fd: int) -> str | None:
    """Run test cells like nbgrader grades them: None if all pass, else why the first one failed."""
    for gid, source in sources:
        try:
            exec(compile(source, f"<{gid}>", "exec"), ns)  # noqa: S102 (running notebook cells is the job)
        except BaseException as exc:  # noqa: BLE001  (a mutant may raise anything, SystemExit included)
            first = (str(exc).strip().splitlines() or [""])[0]
            return f"{gid}: {type(exc).__name__}: {first[:100]}"
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        if os.fstat(stderr_fd).st_size:
            os.lseek(stderr_fd, 0, os.SEEK_SET)
            text = os.read(stderr_fd, 200).decode(errors="replace").strip().splitlines()
            return f"{gid}: wrote to stderr: {(text or [''])[-1][:100]}"
    return None


class CellTimeout(BaseException):
    """A test cell overran nbgrader's per-cell timeout (nbgrader interrupts it: the cell fails)."""


def run_every_cell(ns: dict, sources, stderr_fd: int, cell_timeout: float) -> list[tuple[str, str]]:
    """Run every test cell, as nbgrader does (a failed cell does not stop the next): (grade_id, why) of each failure.

    A cell fails when it raises, writes to stderr, or runs longer than `cell_timeout` seconds (nbgrader's
    Execute.timeout, after which it interrupts the cell).
    """
    def overran(signum, frame):
        raise CellTimeout(f"ran longer than {cell_timeout:g} s")

    failed = []
    previous = signal.signal(signal.SIGALRM, overran)
    try:
        for gid, source in sources:
            seen = os.fstat(stderr_fd).st_size
            try:
                signal.setitimer(signal.ITIMER_REAL, cell_timeout)
                try:
                    exec(compile(source, f"<{gid}>", "exec"), ns)  # noqa: S102 (running notebook cells is the job)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            except BaseException as exc:  # noqa: BLE001  (a wrong answer may raise anything)
                first = (str(exc).strip().splitlines() or [""])[0]
                failed.append((gid, f"{type(exc).__name__}: {first[:100]}"))
                continue
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            if os.fstat(stderr_fd).st_size > seen:
                os.lseek(stderr_fd, seen, os.SEEK_SET)
                text = os.read(stderr_fd, 200).decode(errors="replace").strip().splitlines()
                failed.append((gid, f"wrote to stderr: {(text or [''])[-1][:100]}"))
    finally:
        signal.signal(signal.SIGALRM, previous)
    return failed


def child(ns: dict, exercise: Exercise, source: str, out_fd: int, cell_timeout: float | None = None) -> None:
    """In the forked child: run the mutated solution and the tests; report on out_fd; never return.

    With `cell_timeout`, every test cell runs (as in nbgrader) and the verdict lists each failed cell;
    without, the first failure decides (enough to kill a mutant).
    """
    verdict: dict = {"killed": True, "why": "crashed"}
    try:
        os.setpgid(0, 0)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        err = tempfile.TemporaryFile()  # noqa: SIM115 (lives past this block)
        os.dup2(err.fileno(), 2)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), write_through=True)
        sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", closefd=False), write_through=True)
        try:
            exec(compile(source, f"<{exercise.grade_id}>", "exec"), ns)  # noqa: S102 (running notebook cells is the job)
        except BaseException as exc:  # noqa: BLE001
            why = f"{exercise.grade_id}: the solution cell raised {type(exc).__name__}"
            verdict = {"killed": True, "why": why, "failed": [gid for gid, _ in exercise.tests]}
        else:
            if cell_timeout is None:
                why = run_cells(ns, exercise.tests, err.fileno())
                verdict = {"killed": why is not None, "why": why or ""}
            else:
                failures = run_every_cell(ns, exercise.tests, err.fileno(), cell_timeout)
                verdict = {"killed": bool(failures), "why": "; ".join(f"{g}: {w}" for g, w in failures[:1]),
                           "failed": [g for g, _ in failures]}
    finally:
        with contextlib.suppress(Exception):
            os.write(out_fd, json.dumps(verdict).encode())
        os._exit(0)


def run_mutants(ns: dict, exercise: Exercise, todo: list[Mutant], jobs: int, timeout: float, notebook: Path,
                cell_timeout: float | None = None) -> list[dict]:
    """Run each mutant in a forked child, `jobs` at a time, each within `timeout` seconds.

    With `cell_timeout` every test cell runs and the results list the failed ones (see child()).
    """
    results = []
    queue = list(todo)
    running: dict[int, tuple[Mutant, float, int, bytearray]] = {}
    while queue or running:
        while queue and len(running) < jobs:
            m = queue.pop(0)
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                child(ns, exercise, m.source, w, cell_timeout)
            os.close(w)
            running[pid] = (m, time.monotonic(), r, bytearray())
        fds = {entry[2]: pid for pid, entry in running.items()}
        ready, _, _ = select.select(list(fds), [], [], 0.02)
        for fd in ready:
            chunk = os.read(fd, 65536)
            running[fds[fd]][3].extend(chunk)
        for pid, (m, start, fd, buf) in list(running.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            overran = not done and time.monotonic() - start > timeout
            if overran:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            if not (done or overran):
                continue
            with contextlib.suppress(OSError):
                while True:
                    more = os.read(fd, 65536)
                    if not more:
                        break
                    buf.extend(more)
            os.close(fd)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # anything the mutant left running in its group
            del running[pid]
            if overran:
                verdict = {"killed": True, "why": f"overran its {timeout:.0f} s deadline"}
            else:
                try:
                    verdict = json.loads(bytes(buf).decode() or "{}")
                except ValueError:
                    verdict = {}
                if "killed" not in verdict:
                    verdict = {"killed": True, "why": f"the process died (status {status})"}
            results.append({"id": m.id, "op": m.op, "diff": m.diff, "exercise": exercise.grade_id,
                            "seconds": round(time.monotonic() - start, 3), **verdict})
    return results


def worker(path: Path, jobs: int, timeout: float, only: set[str] | None, wrong: bool = False,
           answers_in: Path | None = None, cell_timeout: float | None = None) -> dict:
    """Run every mutant of one notebook; return the results (JSON-ready).

    With `cell_timeout` (the honesty harness's mode) no mutant runs: the reference and each wrong answer
    (from `answers_in`, default the catalogue's folder) run every test cell of their exercise, alone, and
    the results list the cells each one fails.
    """
    cells = read_notebook(path)
    os.chdir(path.parent)
    ns: dict = {"__name__": "__main__"}
    report: dict = {"notebook": os.path.relpath(path, REPO), "section": path.parent.name, "exercises": []}
    saved_out, saved_err = sys.stdout, sys.stderr
    i = 0
    while i < len(cells):
        kind, gid, source = cells[i]
        i += 1
        if kind == "test":
            continue
        sys.stdout = io.StringIO()  # the examples' prints
        try:
            exec(compile(source, f"<{gid or 'cell'}>", "exec"), ns)  # noqa: S102 (running notebook cells is the job)
        finally:
            sys.stdout = saved_out
        if kind != "solution":
            continue
        tests = []
        while i < len(cells) and cells[i][0] == "test":
            tests.append((cells[i][1], cells[i][2]))
            i += 1
        exercise = Exercise(gid, source, tests)
        if only and gid not in only:
            continue
        if only and not only - {e["grade_id"] for e in report["exercises"]} - {gid}:
            cells = cells[:i]  # the last exercise of this worker's share: the rest of the notebook is not needed
        if cell_timeout is not None:  # alone: the reference and the wrong answers, every cell
            hard = cell_timeout * (len(tests) + 1) + 5  # nbgrader interrupts a cell; this kills a child that ignores it
            todo = [Mutant(f"{gid}:reference", "reference", source, "")]
            todo += [Mutant(f"{gid}:{a.name}", "wrong", a.source, a.path.name)
                     for a in catalogue.wrong_answers(path.parent.name, gid, folder=answers_in)]
            done = {r["id"]: r for r in run_mutants(ns, exercise, todo, jobs, hard, path, cell_timeout)}
            report["exercises"].append({"grade_id": gid, "reference": done[todo[0].id],
                                        "wrong": [done[m.id] for m in todo[1:]]})
            continue
        start = time.monotonic()
        reference = [Mutant(f"{gid}:reference", "reference", source, "")]
        ref = run_mutants(ns, exercise, reference, 1, timeout * 3, path)[0]
        if ref["killed"]:  # once more: a busy machine can make one timing check fail
            ref = run_mutants(ns, exercise, reference, 1, timeout * 3, path)[0]
        ref_seconds = time.monotonic() - start
        entry = {"grade_id": gid, "reference_seconds": round(ref_seconds, 2), "results": []}
        if ref["killed"]:
            entry["error"] = f"the reference fails its own tests: {ref['why']}"
        else:
            deadline = max(timeout, 3 * ref_seconds + 2)
            entry["results"] = run_mutants(ns, exercise, mutants(gid, source), jobs, deadline, path)
            # the correct answers in other styles must pass (no false negatives), fast
            answers = [Mutant(f"{gid}:{a.name}", "correct", a.source, a.path.name)
                       for a in catalogue.correct_answers(path.parent.name, gid)]
            entry["correct"] = run_mutants(ns, exercise, answers, jobs, deadline, path)
            # a correct answer that failed is tried once more, alone: a timing test on a machine busy with
            # several mutants at once can fail a right answer (the honesty harness grades them all anyway)
            failed = {r["id"] for r in entry["correct"] if r.get("killed")}
            if failed:
                again = run_mutants(ns, exercise, [a for a in answers if a.id in failed], 1, deadline, path)
                retried = {r["id"]: r for r in again}
                entry["correct"] = [retried.get(r["id"], r) for r in entry["correct"]]
            if wrong:  # and the registered wrong answers must fail (a quick look before the honesty run)
                answers = [Mutant(f"{gid}:{a.name}", "wrong", a.source, a.path.name)
                           for a in catalogue.wrong_answers(path.parent.name, gid)]
                entry["wrong"] = run_mutants(ns, exercise, answers, jobs, deadline, path)
        report["exercises"].append(entry)
    sys.stdout, sys.stderr = saved_out, saved_err
    return report


# ---------------------------------------------------------------------------------------------------
# The driver: workers in parallel, the report, the goal.


def sections(names: list[str]) -> list[Path]:
    found = sorted(p for p in NOTEBOOKS.glob("[0-9]*/*.ipynb") if not p.name.startswith("."))
    if names:
        found = [p for p in found if p.parent.name in names or p.parent.name.split("_", 1)[-1] in names]
    return found


def load_equivalent() -> dict[str, str]:
    return json.loads(EQUIVALENT.read_text()) if EQUIVALENT.exists() else {}


@dataclass
class Tally:
    total: int = 0
    killed: int = 0
    equivalent: int = 0
    killed_equivalent: int = 0
    survivors: list = field(default_factory=list)

    def add(self, result: dict, section: str, equivalent: dict[str, str]) -> None:
        key = f"{section}/{result['id']}"
        self.total += 1
        self.killed += result["killed"]
        if key in equivalent:
            self.equivalent += 1
            self.killed_equivalent += result["killed"]
        elif not result["killed"]:
            self.survivors.append((key, result["diff"]))

    @property
    def rate_all(self) -> float:
        return self.killed / self.total if self.total else 1.0

    @property
    def rate_non_equivalent(self) -> float:
        n = self.total - self.equivalent
        return (self.killed - self.killed_equivalent) / n if n else 1.0


def spawn(path: Path, args, share: list[str]) -> tuple:
    """A worker for (a share of the exercises of) one notebook; its output goes to temporary files (a pipe
    could fill and block it)."""
    cmd = [sys.executable, __file__, "--worker", str(path), "-j", str(args.jobs), "--timeout", str(args.timeout)]
    cmd += ["--wrong"] if args.wrong else []
    if args.cell_timeout is not None:
        cmd += ["--cell-timeout", str(args.cell_timeout)]
    if args.answers_in is not None:
        cmd += ["--answers-in", str(args.answers_in)]
    for gid in share:
        cmd += ["--exercise", gid]
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115 (lives past this block)
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=REPO, start_new_session=True)
    return proc, out, err


def shares(path: Path, args) -> list[tuple[list[str], int]]:
    """The notebook's exercises in runs of at most --share cases each (mutants, or wrong answers), with sizes.

    Why: most cases wait (on a check's deadline, a peer's timeout), so the run lasts as long as its
    longest worker; a big notebook split into shares, each with its own warm worker, spreads its cases
    over the slots instead of queueing them behind `-j` of its own.
    """
    found, size = [], 0
    for kind, gid, source in read_notebook(path):
        if kind != "solution" or (args.exercise and gid not in args.exercise):
            continue
        n = (len(catalogue.wrong_answers(path.parent.name, gid, folder=args.answers_in)) + 1
             if args.cell_timeout is not None else len(mutants(gid, source)))
        if found and size + n <= args.share:
            found[-1][0].append(gid)
            found[-1] = (found[-1][0], found[-1][1] + n)
        else:
            found.append(([gid], n))
        size = found[-1][1]
    return found


def run_all(paths: list[Path], args) -> list[dict]:
    # the biggest shares first: the run lasts as long as its longest worker, so start those early
    pending = sorted(((path, share, n) for path in paths for share, n in shares(path, args)), key=lambda u: -u[2])
    parts: dict[Path, list[dict]] = {}
    running: list = []
    while pending or running:
        while pending and len(running) < args.notebooks:
            path, share, _ = pending.pop(0)
            running.append((path, *spawn(path, args, share)))
        while all(proc.poll() is None for _, proc, _, _ in running):
            time.sleep(0.05)  # noqa: TID251 - sleep-ok: polling a few worker processes
        k = next(k for k, (_, proc, _, _) in enumerate(running) if proc.poll() is not None)
        path, proc, out, err = running.pop(k)
        out.seek(0)
        err.seek(0)
        lines = out.read().decode(errors="replace").splitlines()
        if proc.returncode != 0 or not lines:
            parts.setdefault(path, []).append({
                "error": err.read().decode(errors="replace")[-2000:] or f"exit {proc.returncode}", "exercises": []})
        else:
            parts.setdefault(path, []).append(json.loads(lines[-1]))
        out.close()
        err.close()
    reports = []
    for path, found in parts.items():  # one report per notebook, its exercises in the notebook's order
        order = {gid: k for k, (_, gid, _) in enumerate(read_notebook(path))}
        errors = [r["error"] for r in found if r.get("error")]
        rep = {"notebook": os.path.relpath(path, REPO), "section": path.parent.name,
               "exercises": sorted((e for r in found for e in r["exercises"]), key=lambda e: order[e["grade_id"]])}
        if errors:
            rep["error"] = "\n".join(errors)
        reports.append(rep)
    return sorted(reports, key=lambda r: r["notebook"])


def report(reports: list[dict], equivalent: dict[str, str], show_survivors: bool, out=sys.stdout) -> bool:
    """Print kill rates and survivors; True when the goal is met."""
    ok = True
    overall = Tally()
    used = set()
    for rep in reports:
        section = rep["section"]
        tally = Tally()
        print(f"\n{rep['notebook']}", file=out)
        if rep.get("error"):
            print(f"  ERROR: {rep['error']}", file=out)
            ok = False
        for ex in rep["exercises"]:
            t = Tally()
            for result in ex["results"]:
                for target in (t, tally, overall):
                    target.add(result, section, equivalent)
                used.add(f"{section}/{result['id']}")
            if ex.get("error"):
                print(f"  {ex['grade_id']:28} ERROR: {ex['error']}", file=out)
                ok = False
                continue
            print(f"  {ex['grade_id']:28} {t.killed:4}/{t.total:<4} killed  {100 * t.rate_all:5.1f} %"
                  f"  non-equivalent {100 * t.rate_non_equivalent:5.1f} %  ({len(t.survivors)} survive,"
                  f" {t.equivalent} equivalent, reference {ex['reference_seconds']:.2f} s)", file=out)
            for answer in ex.get("wrong", []):
                if not answer["killed"]:
                    print(f"      WRONG ANSWER PASSES: {answer['diff']}", file=out)
            for answer in ex.get("correct", []):
                if answer["killed"]:
                    ok = False
                    print(f"      FALSE NEGATIVE: the correct answer {answer['diff']} fails: {answer['why']}",
                          file=out)
            if show_survivors:
                for key, diff in t.survivors:
                    print(f"      survivor {key}  {diff}", file=out)
        met = tally.rate_non_equivalent >= GOAL_SECTION
        ok &= met
        print(f"  section {section}: {tally.killed}/{tally.total} killed ({100 * tally.rate_all:.1f} %), "
              f"non-equivalent {100 * tally.rate_non_equivalent:.1f} % "
              f"({tally.equivalent} equivalent) {'ok' if met else f'BELOW the {GOAL_SECTION:.0%} goal'}", file=out)
    met_all = overall.rate_all >= GOAL_ALL
    ok &= met_all
    print(f"\nall sections: {overall.killed}/{overall.total} killed ({100 * overall.rate_all:.1f} %), "
          f"non-equivalent {100 * overall.rate_non_equivalent:.1f} %, {overall.equivalent} equivalent, "
          f"{len(overall.survivors)} survivors {'ok' if met_all else f'BELOW the {GOAL_ALL:.0%} goal'}", file=out)
    stale = sorted(k for k in equivalent if k.split("/")[0] in {r["section"] for r in reports} and k not in used
                   and k.split(":")[0].split("/")[1] in {e["grade_id"] for r in reports for e in r["exercises"]})
    if stale:
        print(f"equivalent-list entries that match no mutant any more (remove them): {stale}", file=out)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sections", nargs="*", help="section folders (e.g. 03_server or server); default: all")
    parser.add_argument("-j", "--jobs", type=int, default=3, help="mutants run at once per worker (default 3)")
    parser.add_argument("--notebooks", type=int, default=4, help="workers at once (default 4)")
    parser.add_argument("--share", type=int, default=90,
                        help="most mutants one worker takes: a bigger notebook is split (default 90)")
    parser.add_argument("--timeout", type=float, default=6.0, help="least deadline per mutant, seconds")
    parser.add_argument("--exercise", action="append", help="only this solution grade_id (repeatable)")
    parser.add_argument("--survivors", action="store_true", help="list every surviving mutant")
    parser.add_argument("--check", action="store_true", help="exit 1 below the goal")
    parser.add_argument("--wrong", action="store_true", help="also run tests/wrong_answers (each must fail)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    # the honesty harness's mode (with --worker): no mutants; the reference and each wrong answer alone
    # The honesty harness's mode: no mutants; each wrong answer (of the catalogue, or of --answers-in) and
    # the reference run alone, every test cell, each failed cell listed (SECTION may be a notebook path).
    parser.add_argument("--cell-timeout", type=float, help="honesty mode: nbgrader's per-cell timeout, seconds")
    parser.add_argument("--answers-in", type=Path, help="honesty mode: the wrong answers' folder (one notebook)")
    args = parser.parse_args(argv)
    if args.worker:
        rep = worker(args.worker.resolve(), args.jobs, args.timeout, set(args.exercise or ()), args.wrong,
                     args.answers_in, args.cell_timeout)
        sys.__stdout__.write(json.dumps(rep) + "\n")
        sys.__stdout__.flush()
        os._exit(0)  # leave without waiting for anything the notebook's examples left behind
    if not hasattr(os, "fork"):
        print("mutants: needs os.fork (Linux or macOS)", file=sys.stderr)
        return 2
    paths = sections(args.sections)
    paths += [Path(p).resolve() for p in args.sections if p.endswith(".ipynb") and Path(p).is_file()]
    if not paths:
        print(f"mutants: no notebooks match {args.sections}", file=sys.stderr)
        return 2
    start = time.monotonic()
    reports = run_all(paths, args)
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))
    if args.cell_timeout is not None:  # the honesty harness reads the JSON: no kill rates to report
        return 0
    ok = report(reports, load_equivalent(), args.survivors or not args.check)
    print(f"run time {time.monotonic() - start:.1f} s ({args.notebooks} workers x {args.jobs} mutants at once)")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
