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
from typing import IO, Callable, Generic, Iterable, TypeVar

import psutil

HAS_FORK = hasattr(os, "fork") and sys.platform != "win32"


def use_fork() -> bool:
    """Fork workers where the platform can; SOCKET_COURSE_NO_FORK=1 forces the Windows path, for testing."""
    return HAS_FORK and os.environ.get("SOCKET_COURSE_NO_FORK", "") in ("", "0")


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


def as_worker() -> None:
    """Set up this process to grade one submission: it adopts orphans and is capped in memory."""
    _become_subreaper()
    _limit_memory(WORKER_MEMORY)


def end_worker() -> None:
    """End every process this worker started (kernels, and anything a submission left behind)."""
    _kill_descendants()


K = TypeVar("K")


@dataclass
class Task(Generic[K]):
    """One unit of work for a child: `run()` in the child returns a JSON-able dict."""

    key: K
    run: Callable[[], dict]
    argv: list[str] = field(default_factory=list)  # the same work as a command, where fork is missing
    after: Callable[[int], None] | None = None  # cleanup by the child's pid, once its whole tree has ended


@dataclass
class _Running:
    task: Task
    pid: int
    started: float
    reader: IO[bytes]
    chunks: list = field(default_factory=list)
    popen: subprocess.Popen | None = None


def _start(task: Task, fork: bool) -> _Running:
    if fork:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                os.close(r)
                os.setsid()
                as_worker()
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                report = task.run()
                end_worker()
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
                             stdin=subprocess.DEVNULL, start_new_session=HAS_FORK)
    assert popen.stdout is not None
    return _Running(task, popen.pid, time.monotonic(), popen.stdout, popen=popen)


def _report(run: _Running) -> dict:
    text = b"".join(run.chunks).decode(errors="replace").strip()
    for line in reversed(text.splitlines() or [text]):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {"ok": False, "error": "the grading process ended without a result"}


def _kill_now(pid: int) -> None:
    """SIGKILL a process and its descendants without waiting for them (they are reaped later)."""
    try:
        root = psutil.Process(pid)
        victims = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for proc in victims:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass


class _Reaper:
    """Children that have reported (or overrun) and are being killed: reaped without blocking the loop.

    A forked worker that has written its report is already ending; waiting for its exit in the loop (as
    psutil.wait_procs does, polling) kept the next submission from starting. Each is reaped as soon as
    it has exited (a pidfd wakes the selector where Linux offers one), and its `after` cleanup runs then.
    """

    POLL = 0.05  # seconds between checks where there is no pidfd

    def __init__(self, sel: selectors.BaseSelector):
        self.sel = sel
        self.pending: dict[int, tuple[Task, int | None]] = {}

    def add(self, run: _Running) -> None:
        _kill_now(run.pid)
        fd = None
        if hasattr(os, "pidfd_open"):
            try:
                fd = os.pidfd_open(run.pid)
                self.sel.register(fd, selectors.EVENT_READ, ("reap", run.pid))
            except OSError:
                fd = None
        self.pending[run.pid] = (run.task, fd)
        self.poll()

    def timeout(self) -> float | None:
        return self.POLL if any(fd is None for _, fd in self.pending.values()) else None

    def poll(self, block: bool = False) -> None:
        for pid in list(self.pending):
            try:
                done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self._reaped(pid)

    def _reaped(self, pid: int) -> None:
        task, fd = self.pending.pop(pid)
        if fd is not None:
            self.sel.unregister(fd)
            os.close(fd)
        if task.after is not None:
            task.after(pid)

    def drain(self) -> None:
        """Wait for every pending child (the run is ending)."""
        self.poll(block=True)


def run_all(tasks: Iterable[Task[K]], jobs: int, budget: float, on_done: Callable[[K, dict], None]) -> None:
    """Run tasks, at most `jobs` at once, each within `budget` seconds; call on_done(key, report)."""
    if not use_fork():
        _run_spawned(list(tasks), jobs, budget, on_done)
        return
    queue = list(tasks)
    running: dict[object, _Running] = {}
    sel = selectors.DefaultSelector()
    reaper = _Reaper(sel)
    try:
        while queue or running:
            while queue and len(running) < max(1, jobs):
                run = _start(queue.pop(0), True)
                running[run.reader] = run
                sel.register(run.reader, selectors.EVENT_READ, run)
            now = time.monotonic()
            wait = max(0.0, min(r.started + budget for r in running.values()) - now)
            poll = reaper.timeout()
            if poll is not None:
                wait = min(wait, poll)
            for key, _ in sel.select(timeout=wait):
                if isinstance(key.data, tuple):  # a pidfd: that child has exited
                    reaper.poll()
                    continue
                run = key.data
                data = run.reader.read(65536)
                if data:
                    run.chunks.append(data)
                    continue
                sel.unregister(run.reader)
                del running[run.reader]
                run.reader.close()
                reaper.add(run)  # it has reported and is ending: reaped without holding up the others
                on_done(run.task.key, _report(run))
            reaper.poll()
            now = time.monotonic()
            for run in [r for r in running.values() if now - r.started >= budget]:
                sel.unregister(run.reader)
                del running[run.reader]
                _finish(run, on_done, True, overran=True, budget=budget)
    finally:
        for run in running.values():
            kill_tree(run.pid)
            run.reader.close()
        reaper.drain()
        sel.close()


def _run_spawned(queue: list[Task[K]], jobs: int, budget: float, on_done: Callable[[K, dict], None]) -> None:
    """Where there is no fork (Windows): a command per task, `jobs` at a time, via communicate()'s deadline."""
    running: list[_Running] = []
    try:
        while queue or running:
            while queue and len(running) < max(1, jobs):
                running.append(_start(queue.pop(0), False))
            run = running.pop(0)
            try:
                assert run.popen is not None
                out, _ = run.popen.communicate(timeout=max(0.0, run.started + budget - time.monotonic()))
                run.chunks.append(out)
                _finish(run, on_done, False, overran=False)
            except subprocess.TimeoutExpired:
                _finish(run, on_done, False, overran=True, budget=budget)
    finally:
        for run in running:
            kill_tree(run.pid)
            run.reader.close()


def _finish(run: _Running, on_done, fork: bool, overran: bool, budget: float = 0.0) -> None:
    kill_tree(run.pid)  # kernels and whatever the submission started go with it
    if fork:
        try:
            os.waitpid(run.pid, 0)
        except ChildProcessError:
            pass
    elif run.popen is not None:
        run.popen.wait()
    run.reader.close()
    if run.task.after is not None:
        run.task.after(run.pid)
    if overran:
        report = {"ok": False, "error": f"grading took longer than its {budget:g} s budget and was stopped"}
    else:
        report = _report(run)
    on_done(run.task.key, report)
