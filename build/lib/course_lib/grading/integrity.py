"""Static checks of a submission before it runs: what a learner's cells must not do.

Test cells run in the same kernel as the learner's code, so code that rewrites the grading machinery
(course_lib's checks, IPython's exception handling or input transformers, builtins, the interpreter's
tracing hooks, the socket module itself) could make a failing test look like a pass. Such code has no
place in an exercise about sockets. This module reads every cell the learner could edit (solution cells
and any cells they added; locked cells are restored from the source by nbgrader anyway), parses it the
way IPython would, and reports each construct that reaches into the grader. A flagged submission is
graded with no credit and the reason is shown to the instructor, who can review it.

It also reports structural tampering that nbgrader would otherwise repair silently: graded or locked
cells deleted, or their type changed.
"""
from __future__ import annotations

import ast

import nbformat

from .cells import grade_id, is_graded, nbgrader_meta

# Names whose mere use reaches into the kernel or the interpreter rather than into sockets.
FORBIDDEN_NAMES = {
    "get_ipython": "uses get_ipython(), which can change how test cells run",
    "__builtins__": "changes the builtins",
    "__import__": "imports modules by computed name",
    "exec": "runs code built from strings (exec)",
    "eval": "runs code built from strings (eval)",
    "compile": "compiles code at run time",
    "globals": "rewrites the notebook's global names",
    "setattr": "sets attributes by name (setattr)",
    "delattr": "deletes attributes by name (delattr)",
}
FORBIDDEN_MODULES = {
    "builtins": "imports builtins",
    "ctypes": "imports ctypes (raw memory access)",
    "gc": "imports gc (reaching objects it does not own)",
    "inspect": "imports inspect (reaching the grader's frames)",
    "importlib": "imports importlib (reloading or replacing modules)",
    "IPython": "imports IPython (changing how test cells run)",
    "ipykernel": "imports ipykernel",
    "nbgrader": "imports nbgrader",
    "sqlite3": "imports sqlite3 (the gradebook is SQLite)",
}
FORBIDDEN_SYS = {"modules", "settrace", "setprofile", "_getframe", "excepthook", "meta_path", "path_hooks",
                 "addaudithook", "displayhook", "stdout", "stderr"}
FORBIDDEN_DUNDERS = {"__class__", "__subclasses__", "__globals__", "__code__", "__dict__", "__closure__",
                     "__builtins__", "__defaults__", "__kwdefaults__", "__getattribute__", "__mro__", "__bases__",
                     "__base__", "__loader__", "__spec__", "__traceback__", "tb_frame", "f_globals", "f_locals",
                     "f_back", "gi_frame", "cr_frame"}
ALLOWED_MAGICS = {"time", "timeit"}
# Methods that let a returned object answer "yes" to any comparison a test makes.
FORBIDDEN_METHODS = {"__eq__", "__ne__", "__bool__", "__hash__", "__instancecheck__", "__subclasscheck__",
                     "__contains__", "__len__"}


def _python_source(source: str) -> str:
    """The cell as Python, magics and shell escapes turned into the calls IPython would make."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # IPython missing or the transform itself failed: judge the raw text
        return source


def _allowed_magic(node: ast.Call) -> bool:
    """get_ipython().run_line_magic('timeit', ...) and friends, which only time code."""
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr in {"run_line_magic", "run_cell_magic"}
            and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "get_ipython" and node.args and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in ALLOWED_MAGICS)


def scan_code(source: str) -> list[str]:
    """Reasons this code reaches into the grader; empty when it does not."""
    try:
        tree = ast.parse(_python_source(source))
    except SyntaxError:
        return []  # code that does not parse cannot run either: its tests simply fail
    reasons: list[str] = []
    modules: set[str] = set()  # names bound to imported modules (or things imported from them)
    allowed_calls: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _allowed_magic(node):
            allowed_calls.add(id(node.func.value))
            allowed_calls.add(id(node.func.value.func))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                modules.add(alias.asname or top)
                if top in FORBIDDEN_MODULES:
                    reasons.append(FORBIDDEN_MODULES[top])
                if top == "course_lib" and alias.name != "course_lib":
                    modules.add(alias.asname or top)
        elif isinstance(node, ast.ImportFrom):
            top = (node.module or "").split(".")[0]
            if top in FORBIDDEN_MODULES:
                reasons.append(FORBIDDEN_MODULES[top])
            for alias in node.names:
                modules.add(alias.asname or alias.name)
                if top == "sys" and alias.name in FORBIDDEN_SYS:
                    reasons.append(f"uses sys.{alias.name}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES and id(node) not in allowed_calls:
            reasons.append(FORBIDDEN_NAMES[node.id])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in FORBIDDEN_METHODS:
            reasons.append(f"defines {node.name}, which can make a wrong result compare as right")
        elif isinstance(node, ast.Attribute):
            if node.attr in FORBIDDEN_DUNDERS:
                reasons.append(f"reaches into objects' internals ({node.attr})")
            if isinstance(node.value, ast.Name) and node.value.id == "sys" and node.attr in FORBIDDEN_SYS:
                reasons.append(f"uses sys.{node.attr}")
            if isinstance(node.value, ast.Name) and node.value.id == "os" and node.attr in {"_exit", "kill", "killpg"}:
                reasons.append(f"uses os.{node.attr}")
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            root = target
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            if target is not root and isinstance(root, ast.Name) and root.id in modules:
                reasons.append(f"replaces part of an imported module ({ast.unparse(target)})")
    return sorted(set(reasons))


def inspect_submission(submitted: nbformat.NotebookNode, source: nbformat.NotebookNode) -> tuple[list[str], list[str]]:
    """Reasons to flag this submission: (structural changes, code that reaches into the grader).

    Structural changes are graded as they stand (a deleted test cell scores 0); code that reaches into the
    grader voids the submission's credit, since no test result from that kernel can be trusted.
    """
    reasons: list[str] = []
    tampering: list[str] = []
    protected = {grade_id(c): c for c in source.cells if is_graded(c) or nbgrader_meta(c).get("locked")}
    present = {grade_id(c): c for c in submitted.cells if grade_id(c)}
    for gid, cell in protected.items():
        if gid not in present:
            if is_graded(cell):
                reasons.append(f"test cell {gid} was deleted")
        elif present[gid].cell_type != cell.cell_type:
            reasons.append(f"cell {gid} was changed from {cell.cell_type} to {present[gid].cell_type}")
    authored = {c.source.strip() for c in source.cells if c.cell_type == "code"}
    for cell in submitted.cells:
        if cell.cell_type != "code":
            continue
        gid = grade_id(cell)
        if gid in protected and protected[gid].cell_type == "code":
            continue  # restored from the source before it runs
        if cell.source.strip() in authored:
            continue  # the course's own example, unchanged (it may show internals, e.g. __mro__)
        for reason in scan_code(cell.source):
            tampering.append(f"{gid or 'an added cell'}: {reason}")
    return reasons, tampering
