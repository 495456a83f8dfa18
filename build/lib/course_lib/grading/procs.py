"""Running graders in child processes that can always be stopped, with everything they started.

On POSIX each submission is graded in a child forked from the warm parent (nbgrader already imported,
so a child starts in milliseconds, not seconds), in a session of its own. On Windows, where there is no
fork, a fresh `python -m course_lib.grading.worker` process does the same job. Either way the parent waits
with a deadline and, when the child is done or overruns, kills the child's whole process tree, kernels
and anything a submission spawned included.
"""
from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import psutil

HAS_FORK = hasattr(os, "fork") and sys.platform != "win32"


def kill_tree(pid: int) -> int:
    """SIGKILL a process and all its descendants (snapshotted first); return how many were killed."""
    try:
        root = psutil.Process(pid)
        victims = root.children(recursive=True) + [root]
    except psutil.NoSuchProcess:
        return 0
    for proc in victims:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(victims, timeout=5)
    return len(victims)


def _become_subreaper() -> None:
    """Linux: orphans of our descendants (a kernel's children) become our children, so we can end them."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        except (OSError, AttributeError):
            pass


WORKER_MEMORY = 4 * 1024**3  # a grader holding a flood of output fails alone, not the machine


def _limit_memory(limit: int) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def _kill_descendants() -> None:
    for child in psutil.Process().children(recursive=True):
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


@dataclass
class Task:
    """One unit of work for a child: `run()` in the child returns a JSON-able dict."""

    key: object
    run: Callable[[], dict]
    argv: list[str] = field(default_factory=list)  # the same work as a command, where fork is missing


@dataclass
class _Running:
    task: Task
    pid: int
    started: float
    reader: object
    chunks: list = field(default_factory=list)
    popen: subprocess.Popen | None = None


def _start(task: Task) -> _Running:
    if HAS_FORK:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                os.close(r)
                os.setsid()
                _become_subreaper()
                _limit_memory(WORKER_MEMORY)
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                report = task.run()
                _kill_descendants()
                os.write(w, json.dumps(report).encode())
            except BaseException as exc:  # noqa: BLE001 - the child must always report and exit
                try:
                    os.write(w, json.dumps({"ok": False, "error": f"grader crashed: {exc!r}"}).encode())
                except OSError:
                    pass
                code = 1
            finally:
                os._exit(code)
        os.close(w)
        return _Running(task, pid, time.monotonic(), os.fdopen(r, "rb", buffering=0))
    popen = subprocess.Popen(task.argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL)
    return _Running(task, popen.pid, time.monotonic(), popen.stdout, popen=popen)


def _report(run: _Running) -> dict:
    text = b"".join(run.chunks).decode(errors="replace").strip()
    for line in reversed(text.splitlines() or [text]):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {"ok": False, "error": "the grading process ended without a result"}


def run_all(tasks: Iterable[Task], jobs: int, budget: float, on_done: Callable[[object, dict], None]) -> None:
    """Run tasks, at most `jobs` at once, each within `budget` seconds; call on_done(key, report)."""
    queue = list(tasks)
    running: dict[object, _Running] = {}
    sel = selectors.DefaultSelector() if HAS_FORK else None
    try:
        while queue or running:
            while queue and len(running) < max(1, jobs):
                run = _start(queue.pop(0))
                running[run.reader] = run
                if sel:
                    sel.register(run.reader, selectors.EVENT_READ, run)
            if sel:
                now = time.monotonic()
                wait = max(0.0, min(r.started + budget for r in running.values()) - now)
                for key, _ in sel.select(timeout=wait):
                    run = key.data
                    data = run.reader.read(65536)
                    if data:
                        run.chunks.append(data)
                        continue
                    sel.unregister(run.reader)
                    del running[run.reader]
                    _finish(run, on_done, overran=False)
                now = time.monotonic()
                for run in [r for r in running.values() if now - r.started >= budget]:
                    sel.unregister(run.reader)
                    del running[run.reader]
                    _finish(run, on_done, overran=True, budget=budget)
            else:  # Windows: one child at a time per slot, via communicate()'s own deadline
                run = next(iter(running.values()))
                del running[run.reader]
                try:
                    out, _ = run.popen.communicate(timeout=budget)
                    run.chunks.append(out)
                    _finish(run, on_done, overran=False)
                except subprocess.TimeoutExpired:
                    _finish(run, on_done, overran=True, budget=budget)
    finally:
        for run in running.values():
            kill_tree(run.pid)
            run.reader.close()
        if sel:
            sel.close()


def _finish(run: _Running, on_done, overran: bool, budget: float = 0.0) -> None:
    kill_tree(run.pid)  # kernels and whatever the submission started go with it
    if HAS_FORK:
        try:
            os.waitpid(run.pid, 0)
        except ChildProcessError:
            pass
    elif run.popen is not None:
        run.popen.wait()
    run.reader.close()
    if overran:
        report = {"ok": False, "error": f"grading took longer than its {budget:g} s budget and was stopped"}
    else:
        report = _report(run)
    on_done(run.task.key, report)
