"""Run source notebooks top to bottom in this interpreter's kernel, as nbgrader would grade them.

Used by tests/test_pythons.py inside a fresh environment of each supported Python:

    python tests/run_notebooks.py notebooks/01_creation/creation.ipynb ...

A notebook fails when a cell raises, when a graded cell writes to stderr (nbgrader scores such a cell 0),
or when the kernel is not this interpreter. Prints one line per notebook with its time; exit status 1 on
any failure. Needs only nbformat and nbclient (and jupyter_client, which nbclient brings): the
project's own dependencies.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

WHO = "import sys; print(sys.prefix, sys.version_info[:2])"


def problems(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(WHO))
    # The kernel listens on Unix sockets in a folder of its own, not on TCP ports picked free and then
    # bound: with several Pythons starting kernels at once, another process could take such a port in
    # between, and the kernel would never answer ("Kernel didn't respond in 60 seconds").
    with tempfile.TemporaryDirectory(prefix="nb-ipc-") as ipc:
        km = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(ipc, "k")),
                           connection_file=str(Path(ipc, "kernel.json")))
        client = NotebookClient(nb, km=km, timeout=120, kernel_name="python3",
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
