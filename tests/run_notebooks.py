"""Run source notebooks top to bottom in this interpreter's kernel, as nbgrader would grade them.

Used by tests/test_pythons.py inside a fresh environment of each supported Python:

    python tests/run_notebooks.py notebooks/01_creation/creation.ipynb ...

A notebook fails when a cell raises, when a graded cell writes to stderr (nbgrader scores such a cell 0),
or when the kernel is not this interpreter. Prints one line per notebook with its time; exit status 1 on
any failure. Needs only nbformat and nbclient (the project's own dependencies).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

WHO = "import sys; print(sys.prefix, sys.version_info[:2])"


def problems(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(WHO))
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError as e:
        return [str(e)[-3000:]]
    found = []
    for index, cell in enumerate(nb.cells[:-1]):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        stderr = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stderr")
        if meta.get("grade") and stderr:
            found.append(f"graded cell {index} ({meta.get('grade_id')}) wrote to stderr: {stderr[:500]}")
    who = "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip()
    expected = f"{sys.prefix} {tuple(sys.version_info[:2])}"
    if who != expected:
        found.append(f"the kernel ran in {who!r}, not in this interpreter ({expected})")
    return found


def main(paths: list[str]) -> int:
    status = 0
    for name in paths:
        start = time.monotonic()
        found = problems(Path(name).resolve())
        print(f"{'FAIL' if found else 'ok'} {name} {time.monotonic() - start:.1f}s", flush=True)
        for problem in found:
            print("  " + problem.replace("\n", "\n  "), flush=True)
        status |= bool(found)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
