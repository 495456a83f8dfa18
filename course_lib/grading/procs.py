"""Running graders in child processes that can always be stopped, with everything they started.

On POSIX each submission is graded in a child forked from the warm parent (nbgrader already imported,
so a child starts in milliseconds, not seconds), in a session of its own. On Windows, where there is no
fork, a fresh `python -m course_lib.grading.worker` process does the same job. Either way the parent waits
with a deadline and, when the child is done or overruns, kills the child's whole process tree, kernels
and anything a submission spawned included; a child that has reported is reaped without holding up the
others. With `ahead`, more children run than places to run cells: the gate (_Gate) lets the next
submissions start their kernels while others run cells.
"""
from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
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


class _Gate:
    """A forked worker's end of the gate: one of the run's `jobs` places where a notebook's cells run.

    The parent runs more workers than `jobs` (run_all's `ahead`), so that the next submissions read,
    scan and start their sandboxed kernels while others run their cells; but only `jobs` kernels at a
    time run cells (and the judge), which have deadlines. A worker asks when its kernel is ready and gives
    its place back when the kernel is gone (sandbox.py's hooks); a worker that ends holding one loses it
    to the parent, which also stops its wall budget from counting while it waits.
    """

    def __init__(self, channel: socket.socket, patience: float):
        self.channel = channel
        self.channel.settimeout(patience)  # every wait has a deadline, this one too
        self.held = False
        self.waited = 0.0  # seconds spent waiting for a place (benchmarks: not the kernel's start)

    def acquire(self) -> None:
        if not self.held:
            self.channel.sendall(b"A")
            began = time.perf_counter()
            try:
                granted = self.channel.recv(1) == b"G"
            except OSError:
                granted = False
            self.waited += time.perf_counter() - began
            if not granted:
                raise RuntimeError("no place to run this notebook was granted: the grading run ended")
            self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.channel.sendall(b"R")


_GATE: _Gate | None = None


def gate_acquire() -> None:
    """Wait for a place to run a notebook's cells (a no-op outside a gated run)."""
    if _GATE is not None:
        _GATE.acquire()


def gate_release() -> None:
    """Give the place back (a no-op if this process holds none)."""
    if _GATE is not None:
        _GATE.release()


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


@contextlib.contextmanager
def interruptible():
    """Within the block, SIGTERM interrupts like Ctrl-C (KeyboardInterrupt), so that the grader's
    clean-up runs (its workers stopped, their jails removed) instead of the process just vanishing."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def as_worker() -> None:
    """Set up this process to grade one submission: it adopts orphans and is capped in memory."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a worker is stopped, not interrupted (`interruptible`)
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
    gate: socket.socket | None = None  # the parent's end of the worker's gate channel
    deadline: float = 0.0  # the budget's end: moved on by the time spent waiting at the gate
    waiting: float | None = None  # since when it waits at the gate


def _start(task: Task, fork: bool, gated: bool = False, patience: float = 0.0,
           others: Iterable[int] = ()) -> _Running:
    if fork:
        r, w = os.pipe()
        ours, theirs = socket.socketpair() if gated else (None, None)
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                os.close(r)
                for fd in others:  # the parent's ends of the other workers' channels are not ours to hold
                    os.close(fd)
                if ours is not None and theirs is not None:
                    ours.close()
                    global _GATE
                    _GATE = _Gate(theirs, patience)
                os.setsid()
                as_worker()
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                report = task.run()
                if _GATE is not None and isinstance(report.get("timings"), dict):
                    report["timings"]["gate_wait"] = _GATE.waited
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
        if theirs is not None:
            theirs.close()
        return _Running(task, pid, time.monotonic(), os.fdopen(r, "rb", buffering=0), gate=ours)
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


class _Places:
    """The parent's side of the gate: `jobs` places, granted first come first served."""

    def __init__(self, sel: selectors.BaseSelector, places: int):
        self.sel = sel
        self.free = places
        self.queue: list[_Running] = []
        self.holders: set[int] = set()

    def add(self, run: _Running) -> None:
        if run.gate is not None:
            self.sel.register(run.gate, selectors.EVENT_READ, ("gate", run))

    def message(self, run: _Running) -> None:
        assert run.gate is not None
        try:
            data = run.gate.recv(64)
        except OSError:
            data = b""
        if not data:  # the worker is ending: done() settles its place
            self.sel.unregister(run.gate)
            run.gate.close()
            run.gate = None
            return
        for byte in data:
            if byte == ord("A") and run not in self.queue and run.pid not in self.holders:
                run.waiting = time.monotonic()
                self.queue.append(run)
            elif byte == ord("R") and run.pid in self.holders:
                self.holders.discard(run.pid)
                self.free += 1
        self.grant()

    def grant(self) -> None:
        while self.free > 0 and self.queue:
            run = self.queue.pop(0)
            if run.gate is None:
                continue
            if run.waiting is not None:  # waiting for a place does not count against its budget
                run.deadline += time.monotonic() - run.waiting
                run.waiting = None
            try:
                run.gate.sendall(b"G")
            except OSError:
                continue
            self.holders.add(run.pid)
            self.free -= 1

    def done(self, run: _Running) -> None:
        """A worker ended: its place (if it held one) goes to the next in the queue."""
        if run in self.queue:
            self.queue.remove(run)
        if run.pid in self.holders:
            self.holders.discard(run.pid)
            self.free += 1
        if run.gate is not None:
            self.sel.unregister(run.gate)
            run.gate.close()
            run.gate = None
        self.grant()


def run_all(tasks: Iterable[Task[K]], jobs: int, budget: float, on_done: Callable[[K, dict], None],
            ahead: int = 0) -> None:
    """Run tasks, each within `budget` seconds, and call on_done(key, report) for each.

    At most `jobs` run at once; with `ahead`, that many more start early, and the workers share `jobs`
    places to run cells in through the gate (gate_acquire/gate_release, see _Gate). The time a worker
    waits for a place does not count against its budget.
    """
    if not use_fork():
        _run_spawned(list(tasks), jobs, budget, on_done)
        return
    queue = list(tasks)
    running: dict[object, _Running] = {}
    sel = selectors.DefaultSelector()
    reaper = _Reaper(sel)
    places = _Places(sel, max(1, jobs))
    try:
        while queue or running:
            while queue and len(running) < max(1, jobs) + max(0, ahead):
                others = [fd for r in running.values() for fd in (r.reader.fileno(), r.gate and r.gate.fileno())
                          if fd]
                # a worker waits for a place at most while those ahead of it use up their budgets
                run = _start(queue.pop(0), True, gated=ahead > 0, patience=budget * (2 + ahead), others=others)
                run.deadline = run.started + budget
                running[run.reader] = run
                sel.register(run.reader, selectors.EVENT_READ, run)
                places.add(run)
            now = time.monotonic()
            waiting = [r.waiting for r in running.values() if r.waiting is not None]
            wait = max(0.0, min(r.deadline for r in running.values() if r.waiting is None) - now) \
                if len(waiting) < len(running) else None
            poll = reaper.timeout()
            if poll is not None:
                wait = poll if wait is None else min(wait, poll)
            for key, _ in sel.select(timeout=wait):
                if isinstance(key.data, tuple):
                    kind, what = key.data
                    if kind == "gate":
                        if what.gate is not None:
                            places.message(what)
                    else:  # a pidfd: that child has exited
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
                places.done(run)
                reaper.add(run)  # it has reported and is ending: reaped without holding up the others
                on_done(run.task.key, _report(run))
            reaper.poll()
            now = time.monotonic()
            for run in [r for r in running.values() if r.waiting is None and now >= r.deadline]:
                sel.unregister(run.reader)
                del running[run.reader]
                places.done(run)
                _finish(run, on_done, True, overran=True, budget=budget)
    finally:  # also when interrupted (Ctrl-C, or SIGTERM through `interruptible`): nothing is left behind
        for run in running.values():
            kill_tree(run.pid)
            run.reader.close()
            if run.gate is not None:
                run.gate.close()
            reaper.add(run)  # reaped below, and its jail removed (`after`), as when it ends on its own
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
