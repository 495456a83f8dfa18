"""The judge: a fresh interpreter that runs a notebook's graded test cells against the learner's kernel.

    python -I -m course_lib.judge --source NOTEBOOK --listen-fd FD [--pid-root PID] [--uid UID]
                                  [--cell-timeout S] [--budget S] [--names NAME,...]

Everything it runs comes from the trusted side: the test cells' source from the instructor's source
notebook, course_lib from the installation (`-I`: no user site, no environment, no current folder). The
learner's names (every name bound at the top level of a solution cell) are `LearnerFunction` proxies into
the kernel; everything else a test cell uses (checks, peers, faults, runners) is the judge's own.

Steps: accept one connection on the socket the worker made (FD), from a process of the kernel's tree
(SO_PEERCRED, checked against PID's descendants and UID); join the kernel's network namespace (and its
user namespace first, when bubblewrap made one), before any thread starts; run the source notebook's
locked set-up cells, then each graded cell, each within its own deadline (an alarm; every wait for the
kernel also stops at it), printing one JSON line per graded cell to stdout:

    {"grade_id": ..., "passed": true|false, "reason": "one line"}

and finally {"done": true}. Output of the cells themselves goes nowhere.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import fcntl
import io
import json
import os
import signal
import socket
import sys
import threading
import time

from ..grading.cells import nbgrader_meta
from .kernel_only import kernel_only

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MAX_REASON = 160


class CellTimeout(AssertionError):
    """A graded cell ran past its time in the judge."""


def _line(text: str) -> str:
    clean = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())
    return clean if len(clean) <= MAX_REASON else clean[: MAX_REASON - 1] + "…"


def learner_names(nb) -> list[str]:
    """Every name bound at the top level of the notebook's solution cells: what the learner defines."""
    names: list[str] = []
    for node in _statements(nb, "solution"):
        targets: list = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            targets = [node.name]
        elif isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets = [node.target.id]
        names += [t for t in targets if t not in names]
    return names


def _statements(nb, kind: str):
    """The top-level statements of the code cells marked `kind` ("solution", "locked") but not graded."""
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.get("cell_type") != "code" or not meta.get(kind) or meta.get("grade"):
            continue
        try:
            yield from ast.parse(cell.source).body
        except SyntaxError:
            continue


def preimport(nb) -> None:
    """Import what the set-up cells and the checks import, while the notebook's cells still run.

    Imports only: nothing here may start a thread (namespaces are joined later) or open a socket.
    """
    import importlib

    modules = ["course_lib.judge.client", "course_lib.checks", "course_lib.peers", "course_lib.runners",
               "course_lib.faults"]
    for node in _statements(nb, "locked"):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.append(node.module)
    for name in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(name)


class _Node(dict):
    """A notebook's JSON with attribute access (nbformat's NotebookNode, without importing nbformat)."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def read_source(path: str) -> _Node:
    """The instructor's source notebook (trusted, nbformat 4), read as plain JSON.

    Why not nbformat.read: importing nbformat loads jsonschema's format checkers, which compile some
    forty grammars: about a second of CPU in every judge, more than the judging itself. The source
    notebook was validated when the assignment was generated; the judge needs only its cells.
    """
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh, object_hook=_Node)
    if data.get("nbformat") != 4:
        raise ValueError(f"{path}: not an nbformat 4 notebook")
    for cell in data.cells:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    return data


def _setns_fd(fd: int, kind: int, what: str) -> None:
    if hasattr(os, "setns"):  # Python 3.12+
        os.setns(fd, kind)
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, kind) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), what)


NS_GET_USERNS = 0xB701  # ioctl on a namespace's descriptor: a descriptor of the user namespace owning it


def join_namespaces(pid: int) -> None:
    """Join the network namespace of process `pid`, first joining the user namespace that owns it.

    As root that is the judge's own user namespace: only the network namespace is joined. As a user
    without privileges, bubblewrap made the network namespace from a user namespace of its own, and the
    kernel may run in another one nested in it (bwrap nests one to set the kernel's uid); only in the one
    that owns the network namespace does the judge, whose user created both, hold the right to join it.
    """
    if threading.active_count() != 1:
        raise RuntimeError("namespaces must be joined before any thread starts")
    theirs = f"/proc/{pid}/ns/net"
    if os.stat(theirs).st_ino == os.stat("/proc/self/ns/net").st_ino:
        return
    net = os.open(theirs, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            owner = fcntl.ioctl(net, NS_GET_USERNS)
        except OSError:  # a Linux older than 4.9: the kernel's own user namespace, as before
            owner = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if os.fstat(owner).st_ino != os.stat("/proc/self/ns/user").st_ino:
                _setns_fd(owner, CLONE_NEWUSER, "the user namespace of the kernel's network")
        finally:
            os.close(owner)
        _setns_fd(net, CLONE_NEWNET, theirs)
    finally:
        os.close(net)


def _kernel_tree(root: int) -> set[int]:
    import psutil

    try:
        top = psutil.Process(root)
        return {root} | {p.pid for p in top.children(recursive=True)}
    except psutil.Error:
        return set()


def accept_kernel(listener: socket.socket, pid_root: int | None, uid: int | None, deadline: float):
    """The one connection from the kernel's agent: (socket, its pid, uid, gid); strangers are turned away."""
    from .wire import peer_credentials

    for _ in range(5):
        listener.settimeout(max(0.01, deadline - time.monotonic()))
        conn, _ = listener.accept()
        pid, peer_uid, _gid = peer_credentials(conn)
        if (pid_root is None or pid in _kernel_tree(pid_root)) and (uid is None or peer_uid == uid):
            listener.close()
            return conn, pid, peer_uid, _gid
        conn.close()
    raise PermissionError("only processes outside the kernel connected")


def _failed_in_the_notebook() -> dict[str, str]:
    """The cells the worker says failed in the notebook (one JSON line on stdin): they score 0 anyway."""
    import select

    if not select.select([sys.stdin], [], [], 5.0)[0]:
        return {}
    try:
        told = json.loads(sys.stdin.readline(1 << 20) or "{}")
    except ValueError:
        return {}
    skip = told.get("skip") if isinstance(told, dict) else None
    return {gid: "FAILED" for gid in skip if isinstance(gid, str)} if isinstance(skip, list) else {}


def _alarm(_signum, _frame):
    raise CellTimeout("the test ran past its time limit in the judge")


def run_cells(nb, client, names: list[str], cell_timeout: float, budget_end: float, emit,
              skip: dict[str, str] | None = None) -> None:
    from .. import learner
    from .client import LearnerFunction

    learner.judge_kernel(client.process)  # leak checks count the kernel's sockets too (resources.py)
    found = client.lookup(names)
    namespace: dict = {"__name__": "__main__", "__builtins__": __builtins__}
    for name in names:
        kind = found.get(name)
        if kind == "callable":
            namespace[name] = LearnerFunction(client, name)
        elif isinstance(kind, tuple) and len(kind) == 2 and kind[0] == "value":
            namespace[name] = kind[1]
        # a missing name stays undefined: the test cell fails with NameError, as it would in the kernel
    signal.signal(signal.SIGALRM, _alarm)
    sink = io.StringIO()
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.get("cell_type") != "code" or meta.get("solution"):
            continue
        graded = bool(meta.get("grade"))
        if not graded and not meta.get("locked"):
            continue  # the lesson's examples: not needed by the tests
        gid = str(meta.get("grade_id") or "")
        if graded and skip and gid in skip:
            failed = skip[gid] == "FAILED"
            emit({"grade_id": gid, "passed": False if failed else None,
                  "reason": "the notebook's own test failed" if failed else _line(skip[gid])})
            continue
        seconds = max(0.1, min(cell_timeout, budget_end - time.monotonic()))
        client.deadline = time.monotonic() + seconds
        client.unjudgeable = None
        passed, reason, began = False, "", time.monotonic()
        sink.seek(0)
        sink.truncate()
        try:
            code = compile(cell.source, f"<{meta.get('grade_id') or 'cell'}>", "exec")
            signal.setitimer(signal.ITIMER_REAL, seconds)
            try:
                with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                    exec(code, namespace)  # noqa: S102 - the instructor's own test cell
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            passed, reason = True, "passed"
        except BaseException as exc:  # noqa: BLE001 - a failing test cell is a verdict
            if isinstance(exc, (SystemExit, KeyboardInterrupt)) and not isinstance(exc, CellTimeout):
                reason = f"{type(exc).__name__} in the test"
            else:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                reason = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        if graded and client.unjudgeable:
            emit({"grade_id": meta.get("grade_id"), "passed": None, "reason": _line(client.unjudgeable)})
        elif graded:
            emit({"grade_id": meta.get("grade_id"), "passed": passed, "reason": _line(reason),
                  "seconds": round(time.monotonic() - began, 3)})
        if time.monotonic() >= budget_end:
            return


def _changed_in_the_kernel(client) -> list[str]:
    """What the kernel's agent finds rebound in course_lib or Python's own modules (agent.changed_code):
    the names only, bounded; [] where it cannot say."""
    try:
        message, fds = client.ask("changed")
    except Exception:  # noqa: BLE001 - a hint: no answer is no hint
        return []
    from .wire import close_fds, decode

    close_fds(fds)
    try:
        names = decode(message.get("value"), [])
    except Exception:  # noqa: BLE001
        return []
    return [_line(str(n))[:80] for n in names[:20]] if isinstance(names, list) else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.judge")
    parser.add_argument("--source", required=True)
    parser.add_argument("--listen-fd", type=int, required=True)
    parser.add_argument("--pid-root", type=int)
    parser.add_argument("--uid", type=int)
    parser.add_argument("--cell-timeout", type=float, default=15.0)
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--accept-timeout", type=float, default=30.0)
    parser.add_argument("--join", action="store_true", help="join the kernel's network namespace")
    parser.add_argument("--section", default="", help="the assignment (its kernel-only cells are skipped)")
    args = parser.parse_args(argv)
    start = time.monotonic()
    out = os.fdopen(os.dup(1), "w", buffering=1)

    def emit(record: dict) -> None:
        out.write(json.dumps(record) + "\n")
        out.flush()

    try:
        nb = read_source(args.source)
        names = learner_names(nb)
        preimport(nb)
        listener = socket.socket(fileno=args.listen_fd)
        conn, pid, _uid, _gid = accept_kernel(listener, args.pid_root, args.uid, start + args.accept_timeout)
        emit({"accepted": True})
        skip = dict(kernel_only(args.section))
        skip.update(_failed_in_the_notebook())
        if args.join:
            join_namespaces(pid)
        conn.settimeout(None)
        from .client import Client

        client = Client(conn, pid, private_network=args.join)
        try:
            run_cells(nb, client, names, args.cell_timeout, start + args.budget, emit, skip)
            emit({"changed": _changed_in_the_kernel(client)})
        finally:
            client.close()
        emit({"done": True})
    except BaseException as exc:  # noqa: BLE001 - the worker reads the reason, never a traceback
        emit({"error": _line(f"{type(exc).__name__}: {exc}")})
    finally:
        out.flush()
    os._exit(0)  # threads a learner's call left behind in the judge end here


if __name__ == "__main__":
    sys.exit(main())
