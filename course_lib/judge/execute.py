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

from ..grading.cells import nbgrader_meta

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
            # started with the kernel, the judge loads while the notebook's cells run, then waits for the agent
            judge = _Judge.start(self, SETTINGS) if SETTINGS is not None else None
            try:
                yield
                if judge is not None:
                    judge.finish(self)
            finally:
                if judge is not None:
                    judge.close()
            # the cells and the judge are done: the kernel's shutdown need not hold a place to run cells
            from ..grading.procs import gate_release

            gate_release()


@dataclass
class _Judge:
    """One judge process for one notebook, from the kernel's start to its verdicts."""

    settings: Settings
    record: dict
    budget: float = 0.0
    path: Path | None = None
    proc: subprocess.Popen | None = None
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None
    started: float = field(default_factory=time.perf_counter)

    @classmethod
    def start(cls, client: JudgedExecute, settings: Settings) -> _Judge:
        name = str((client.resources or {}).get("unique_key") or "")
        judge = cls(settings, {"cells": {}, "error": None, "seconds": 0.0})
        settings.verdicts[name] = judge.record
        try:
            source = settings.sources.get(name)
            if source is None:
                judge.record["error"] = "no source notebook to judge against"
            else:
                judge._launch(client, source)
        except Exception as exc:  # noqa: BLE001 - a judge that fails is a verdict, never a crash
            judge.record["error"] = f"the judge could not start ({type(exc).__name__}: {exc})"[:200]
        judge.record["seconds"] = time.perf_counter() - judge.started
        return judge

    def _launch(self, client: JudgedExecute, source: Path) -> None:
        import nbformat

        settings, count = self.settings, len(self.settings.verdicts)
        self.budget = budget_for(nbformat.read(str(source), as_version=4), settings.cell_timeout)
        self.path = settings.folder / f"j{os.getpid()}-{count}.sock"
        # the judge's temporary files (a file to send, a CA, an AF_UNIX path) at paths the kernel sees too:
        # the folder is mounted read-only in the jail; the judge opens them to the kernel before each call
        scratch = settings.folder / f"tmp{count}"
        scratch.mkdir(mode=0o755)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(str(self.path))
            if settings.uid is not None:
                os.chmod(self.path, 0o666)  # connect() needs write on the socket; the folder stays read-only
            listener.listen(1)
            process = getattr(getattr(client.km, "provisioner", None), "process", None)
            argv = [sys.executable, "-I", "-m", "course_lib.judge", "--source", str(source),
                    "--listen-fd", str(listener.fileno()), "--cell-timeout", str(settings.cell_timeout),
                    "--budget", str(self.budget), "--section", settings.section, "--accept-timeout", "86400",
                    "--uid", str(settings.uid if settings.uid is not None else os.getuid())]
            if process is not None:
                argv += ["--pid-root", str(process.pid)]
            if settings.join:
                argv.append("--join")
            self.proc = subprocess.Popen(argv, pass_fds=[listener.fileno()], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=str(scratch),
                                         env={**os.environ, "TMPDIR": str(scratch),
                                              "SOCKET_COURSE_JUDGE_SCRATCH": str(scratch)})
        self.reader = threading.Thread(target=_read_lines, args=(self.proc.stdout, self.lines), daemon=True)
        self.reader.start()

    def finish(self, client: JudgedExecute) -> None:
        """After the notebook's last cell: run the agent in the kernel, wait for the verdicts."""
        if self.proc is None or self.path is None:
            return
        began = time.perf_counter()
        try:
            # a cell whose test raised in the notebook scores 0 whatever the judge says: not judged again
            failed = [grade_id for grade_id, error in _graded_outcomes(client.nb) if error]
            if len(failed) == len(_graded_outcomes(client.nb)):
                self.record["cells"] = {gid: [False, "the notebook's own test failed"] for gid in failed}
                self.close()
                return
            assert self.proc.stdin is not None
            self.proc.stdin.write((json.dumps({"skip": failed}) + "\n").encode())
            self.proc.stdin.close()
            cell = new_code_cell(AGENT.format(path=str(self.path)))
            saved = getattr(client, "timeout")  # noqa: B009 - a trait nbgrader declares; mypy cannot see its type
            client.timeout = int(self.budget + GRACE)
            client.nb.cells.append(cell)  # for the moment it runs: nbclient addresses cells by index
            try:
                client.execute_cell(cell, len(client.nb.cells) - 1, store_history=False)
            finally:
                client.timeout = saved
                if client.nb.cells and client.nb.cells[-1] is cell:
                    client.nb.cells.pop()
            try:  # a judge the agent never reached (its cell did not run) is not waited for
                self.proc.wait(timeout=GRACE if any('"accepted"' in line for line in self.lines) else 0.5)
            except subprocess.TimeoutExpired:
                self.record["error"] = "the kernel's agent never connected, or the judge ran past its budget"
                self.close()
            if self.reader is not None:
                self.reader.join(GRACE)
            _parse(self.lines, self.record)
        except Exception as exc:  # noqa: BLE001 - a judge that fails is a verdict, never a crash
            self.record["error"] = self.record["error"] or f"the judge failed ({type(exc).__name__}: {exc})"[:200]
        finally:
            self.record["seconds"] += time.perf_counter() - began

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()


def _graded_outcomes(nb) -> list[tuple[str, bool]]:
    """(grade_id, raised) of every graded code cell the notebook ran: an error output means nbgrader's 0."""
    found = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.get("cell_type") == "code" and meta.get("grade") and meta.get("grade_id"):
            raised = any(out.get("output_type") == "error" for out in cell.get("outputs", []))
            found.append((str(meta["grade_id"]), raised))
    return found


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
        elif isinstance(item.get("changed"), list):
            record["changed"] = [str(n)[:80] for n in item["changed"][:20]]
        elif "error" in item and record["error"] is None:
            record["error"] = str(item["error"])[:200]
        elif item.get("done"):
            done = True
    if not done and record["error"] is None:
        record["error"] = "the judge stopped before it had judged every cell"
