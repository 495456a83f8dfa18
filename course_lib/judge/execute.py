"""nbgrader's Execute step, with the judge run against the kernel after the notebook's last cell.

`JudgedExecute` replaces nbgrader's `Execute` in the worker's autograde (course_lib/grading/worker.py
sets it up with `configure()`). After every cell of the notebook has run, and before nbclient shuts the
kernel down, it
1. makes the judge's listening socket in a folder the kernel can reach but not write (the jail mounts it
   read-only; as root the socket is connectable by the kernel's private user),
2. starts the judge (`python -I -m course_lib.judge`, a fresh interpreter) with that socket,
3. runs one more code cell in the kernel, the agent, which connects and serves until the judge is done.
   The agent's cell is not a cell of the notebook: its output reaches neither the autograded notebook nor
   the feedback,
4. reads the judge's verdicts (one JSON line per graded cell) into `VERDICTS[notebook]`.
Every wait has a deadline; whatever goes wrong becomes `VERDICTS[notebook]["error"]`, never an exception
into nbgrader: the worker then scores the cells the judge did not pass 0 and flags the submission.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from nbformat.v4 import new_code_cell
from nbgrader.preprocessors import Execute

AGENT = "import course_lib.judge.agent as _sc_judge_agent; _sc_judge_agent.serve({path!r}, globals())"
MAX_LINES = 2000  # verdict lines read from one judge
GRACE = 10.0  # seconds the judge may take after the agent's cell ended


@dataclass
class Settings:
    sources: dict[str, Path]  # notebook name -> the instructor's source notebook
    folder: Path  # where the judge's socket is made: the kernel may connect, never write
    uid: int | None = None  # the kernel's user, when grading runs as root
    join: bool = False  # the kernel has a network namespace of its own: the judge joins it
    cell_timeout: float = 15.0
    section: str = ""  # the assignment: its kernel-only cells (kernel_only.py) are not run by the judge
    verdicts: dict[str, dict] = field(default_factory=dict)


SETTINGS: Settings | None = None


def configure(settings: Settings | None) -> None:
    """Set what the next autograde's JudgedExecute needs (a worker grades one submission)."""
    global SETTINGS
    SETTINGS = settings


def budget_for(nb, cell_timeout: float) -> float:
    """The judge's budget for a notebook: its graded cells' time limits, and some for the set-up."""
    graded = sum(1 for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
    return cell_timeout * (graded + 2)


class JudgedExecute(Execute):
    """nbgrader's Execute, then the judge (see the module's docstring)."""

    @contextlib.contextmanager
    def setup_kernel(self, **kwargs):
        with super().setup_kernel(**kwargs):
            yield
            if SETTINGS is not None:
                self._judge(SETTINGS)

    def _judge(self, settings: Settings) -> None:
        name = str((self.resources or {}).get("unique_key") or "")
        record: dict = {"cells": {}, "error": None, "seconds": 0.0}
        settings.verdicts[name] = record
        started = time.perf_counter()
        try:
            source = settings.sources.get(name)
            if source is None:
                record["error"] = "no source notebook to judge against"
                return
            self._run_judge(settings, source, record)
        except Exception as exc:  # noqa: BLE001 - a judge that fails is a verdict, never a crash
            record["error"] = f"the judge could not run ({type(exc).__name__}: {exc})"[:200]
        finally:
            record["seconds"] = time.perf_counter() - started

    def _run_judge(self, settings: Settings, source: Path, record: dict) -> None:
        import nbformat

        budget = budget_for(nbformat.read(str(source), as_version=4), settings.cell_timeout)
        path = settings.folder / f"j{os.getpid()}-{len(settings.verdicts)}.sock"
        # the judge's temporary files (a file to send, a CA, an AF_UNIX path) at paths the kernel sees too:
        # the folder is mounted read-only in the jail; the judge opens them to the kernel before each call
        scratch = settings.folder / f"tmp{len(settings.verdicts)}"
        scratch.mkdir(mode=0o755)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        proc = None
        try:
            listener.bind(str(path))
            if settings.uid is not None:
                os.chmod(path, 0o666)  # connect() needs write on the socket; the folder stays read-only
            listener.listen(1)
            provisioner = getattr(self.km, "provisioner", None)
            process = getattr(provisioner, "process", None)
            argv = [sys.executable, "-I", "-m", "course_lib.judge", "--source", str(source),
                    "--listen-fd", str(listener.fileno()), "--cell-timeout", str(settings.cell_timeout),
                    "--budget", str(budget), "--section", settings.section,
                    "--uid", str(settings.uid if settings.uid is not None else os.getuid())]
            if process is not None:
                argv += ["--pid-root", str(process.pid)]
            if settings.join:
                argv.append("--join")
            proc = subprocess.Popen(argv, pass_fds=[listener.fileno()], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=str(scratch),
                                    env={**os.environ, "TMPDIR": str(scratch),
                                         "SOCKET_COURSE_JUDGE_SCRATCH": str(scratch)})
            listener.close()
            lines: list[str] = []
            reader = threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True)
            reader.start()
            cell = new_code_cell(AGENT.format(path=str(path)))
            saved = getattr(self, "timeout")  # noqa: B009 - a trait nbgrader declares; mypy cannot see its type
            self.timeout = int(budget + GRACE)
            self.nb.cells.append(cell)  # for the moment it runs: nbclient addresses cells by index
            try:
                self.execute_cell(cell, len(self.nb.cells) - 1, store_history=False)
            finally:
                self.timeout = saved
                if self.nb.cells and self.nb.cells[-1] is cell:
                    self.nb.cells.pop()
            try:  # a judge the agent never reached (its cell did not run) is not waited for
                proc.wait(timeout=GRACE if any('"accepted"' in line for line in lines) else 0.5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                record["error"] = "the kernel's agent never connected, or the judge ran past its budget"
            reader.join(GRACE)
            _parse(lines, record)
        finally:
            listener.close()
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            with contextlib.suppress(OSError):
                path.unlink()


def _read_lines(stream, lines: list[str]) -> None:
    for raw in stream:
        if len(lines) < MAX_LINES:
            lines.append(raw.decode(errors="replace"))
    stream.close()


def _parse(lines: list[str], record: dict) -> None:
    done = False
    for text in lines:
        try:
            item = json.loads(text)
        except ValueError:
            continue
        if not isinstance(item, dict):
            continue
        if "grade_id" in item:
            passed = item.get("passed")  # None: left to the notebook (a kernel-only cell)
            record["cells"][str(item["grade_id"])] = [passed if passed is None else bool(passed),
                                                      str(item.get("reason", ""))[:200]]
        elif "error" in item and record["error"] is None:
            record["error"] = str(item["error"])[:200]
        elif item.get("done"):
            done = True
    if not done and record["error"] is None:
        record["error"] = "the judge stopped before it had judged every cell"
