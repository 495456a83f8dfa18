"""A failing test as the learner sees it: the failure, first and only.

Why this module exists: a check knows exactly what went wrong, but Python's
traceback would bury that under the harness's own frames (runners, checks,
peers), and print a stub's NotImplementedError once per chained exception.
Here the failure is rendered in the learner's terms:

* an exercise not written yet is one line: "`serve_once` is not written
  yet: replace `raise NotImplementedError()` with your code.";
* a check's failure is its message (what happened, expected, got, hint, the
  exchange), then, when the learner's own code raised, the learner's frames,
  never a frame of course_lib;
* any other error keeps IPython's usual traceback, minus course_lib's frames.

In a notebook kernel :func:`install` (called when course_lib is imported)
registers the renderer with IPython, and draws the exchange of a failure
about bytes on the wire as an SVG sequence diagram right after the error.
The error output stays an error output, so nbgrader still scores the cell 0,
and the autograded notebook and its feedback show the same clean block.
"""

from __future__ import annotations

import os
import socket
import sys
import sysconfig
import threading
import time
import types

from . import exchange
from .probes import errno_name
from .transcript import Transcript

__all__ = ["CheckFailure", "describe_exception", "exception_name", "install", "learner_frames", "render"]

_HERE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_THREADING = os.path.abspath(threading.__file__)
_RED, _BOLD, _RESET = "\x1b[1;31m", "\x1b[1m", "\x1b[0m"
STUB = "`{name}` is not written yet: replace `raise NotImplementedError()` with your code."


class CheckFailure(AssertionError):
    """What a check raises: what happened, expected, got, hint, and the exchange.

    An AssertionError, so that nbgrader and pytest count it as a failed test.
    ``transcript`` (or None) is kept so that the exchange can be drawn.
    """

    def __init__(self, happened: str, *, expected=None, got=None, hint: str | None = None,
                 transcript: Transcript | None = None) -> None:
        self.happened, self.expected, self.got, self.hint = happened, expected, got, hint
        self.transcript = transcript
        self.at = time.monotonic()  # see runners.ServerState.finished_before
        parts = [happened]
        if expected is not None:
            parts.append(f"  expected: {expected}")
        if got is not None:
            parts.append(f"  got:      {got}")
        if hint:
            parts.append(f"  hint: {hint}")
        if transcript is not None:
            parts.append("  the exchange:")
            parts.append(exchange.text(transcript))
        super().__init__("\n".join(parts))

    def _render_traceback_(self) -> list:  # IPython's hook for an exception's own traceback
        install()  # course_lib may have been imported before the kernel's shell existed
        lines = render(self)
        if _stub(self) is None:
            _draw_later(self)
        return lines if lines is not None else str(self).splitlines()


# -- naming an exception -----------------------------------------------------------

def exception_name(exc: BaseException) -> str:
    """``ValueError`` for built-ins, ``struct.error`` or ``ssl.SSLError`` for module exceptions.

    Why: ``type(exc).__name__`` of ``struct.error`` is just "error", which
    tells a learner nothing.
    """
    cls = type(exc)
    if cls.__module__ in ("builtins", "__main__"):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def describe_exception(exc: BaseException) -> str:
    """The one way the course describes an exception: class, message and errno symbol.

    E.g. ``ConnectionRefusedError('[Errno 111] Connection refused') with errno ECONNREFUSED``.
    Why: learners should see the symbol rather than a bare number; but the codes of
    ``gaierror`` (EAI_*) and ``herror`` (h_errno) are not errno values, so they are shown as numbers.
    """
    text = f"{exception_name(exc)}({str(exc)!r})"
    code = getattr(exc, "errno", None)
    if isinstance(exc, (socket.gaierror, socket.herror)):
        return f"{text} with resolver code {code}"
    if isinstance(exc, OSError):
        return f"{text} with errno {errno_name(code)}"
    return text


# -- reading an exception chain --------------------------------------------------

def _is_harness(filename: str) -> bool:
    filename = os.path.abspath(filename)
    return filename.startswith(_HERE) or filename == _THREADING


def _frames(tb) -> list:
    out = []
    while tb is not None:
        out.append(tb)
        tb = tb.tb_next
    return out


def _chain(exc: BaseException) -> list:
    """``exc`` and every exception it was raised from or while handling, each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    out: list[BaseException] = []
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        out.append(e)
        todo += [e.__cause__, e.__context__]
    return out


_LIBRARIES = tuple({os.path.normcase(os.path.abspath(p)) + os.sep
                    for name in ("stdlib", "platstdlib", "purelib", "platlib")
                    for p in [sysconfig.get_paths().get(name)] if p})


def _is_library(filename: str) -> bool:
    """A file of Python's standard library or an installed package (not the learner's)."""
    return os.path.normcase(os.path.abspath(filename)).startswith(_LIBRARIES)


def learner_frames(exc: BaseException) -> list:
    """The learner's own frames in ``exc``'s traceback, below the harness's first frame.

    The test cell's frame (above the harness) is not the learner's code;
    the harness's frames and the libraries' are left out.  Empty when the
    exception did not pass through the learner's code.
    """
    frames = _frames(exc.__traceback__)
    first = next((i for i, tb in enumerate(frames) if _is_harness(tb.tb_frame.f_code.co_filename)), None)
    if first is None:
        return []
    return [tb for tb in frames[first + 1:] if not _is_harness(tb.tb_frame.f_code.co_filename)
            and not _is_library(tb.tb_frame.f_code.co_filename)]


def _stub(exc: BaseException) -> str | None:
    """The function name when a stub's NotImplementedError is in the chain."""
    for e in _chain(exc):
        if type(e) is NotImplementedError and e.__traceback__ is not None:
            inner = _frames(e.__traceback__)[-1]
            if _is_harness(inner.tb_frame.f_code.co_filename):
                continue
            name = inner.tb_frame.f_code.co_name
            return name if name.isidentifier() else "this exercise"
    return None


def _where(tb, shell=None) -> str:
    code = tb.tb_frame.f_code
    place = None
    compiler = getattr(shell, "compile", None)
    if compiler is not None and hasattr(compiler, "format_code_name"):
        named = compiler.format_code_name(code.co_filename)
        place = f"{named[0]} {named[1]}" if named else None
    if place is None:
        place = os.path.basename(code.co_filename)
    import linecache

    line = linecache.getline(code.co_filename, tb.tb_lineno).strip()
    return f"{place}, line {tb.tb_lineno}, in {code.co_name}" + (f":  {line}" if line else "")


def _from_harness(exc: BaseException) -> bool:
    if isinstance(exc, CheckFailure):
        return True
    frames = _frames(exc.__traceback__)
    return bool(frames) and _is_harness(frames[-1].tb_frame.f_code.co_filename)


def render(exc: BaseException, shell=None) -> list | None:
    """The clean block for ``exc`` as a list of lines, or None when it is not a check's failure.

    None means: show the usual traceback (see :func:`without_harness`).
    """
    name = _stub(exc)
    if name is not None:
        return [_RED + STUB.format(name=name) + _RESET]
    if not (isinstance(exc, AssertionError) and _from_harness(exc)):
        return None
    message = str(exc).splitlines() or [type(exc).__name__]
    name = exercise_name(exc)
    if name and not message[0].startswith(name):
        message[0] = f"{name}: {message[0]}"
    lines = [_RED + message[0] + _RESET] + [
        line.replace("◀ here", _RED + "◀ here" + _RESET) for line in message[1:]]
    for e in _chain(exc)[1:]:
        mine = learner_frames(e)
        if mine and not isinstance(e, CheckFailure):
            lines.append(f"  your code raised {exception_name(e)}"
                         + (f": {_one_line(e)}" if str(e) else "") + ", here:")
            lines += ["    " + _where(tb, shell) for tb in mine[-4:]]
            break
    return lines


def exercise_name(exc: BaseException) -> str | None:
    """The name of the learner's function the failed check was called with, e.g. ``serve_once``.

    The first course_lib frame of the traceback is the check the test cell called; its first argument
    is the learner's function (``checks.check_echo_server(serve_once, ...)``).
    """
    for tb in _frames(exc.__traceback__):
        code = tb.tb_frame.f_code
        if _is_harness(code.co_filename):
            if not code.co_argcount:
                return None
            fn = tb.tb_frame.f_locals.get(code.co_varnames[0])
            name = getattr(fn, "__name__", None)
            return name if callable(fn) and isinstance(name, str) and name.isidentifier() else None
    return None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text if len(text) <= 100 else text[:99] + "…"


def transcript_of(exc: BaseException) -> Transcript | None:
    """The transcript behind a failure (carried by it or by an exception it was raised from)."""
    for e in _chain(exc):
        t = getattr(e, "transcript", None)
        if isinstance(t, Transcript) and len(t):
            return t
    return None


def without_harness(tb):
    """A copy of the traceback ``tb`` without course_lib's frames."""
    kept = [t for t in _frames(tb) if not _is_harness(t.tb_frame.f_code.co_filename)]
    new = None
    for t in reversed(kept):
        new = types.TracebackType(new, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return new


# -- IPython ---------------------------------------------------------------------

_pending: list = []


def _draw_later(exc: BaseException) -> None:
    """Queue the exchange behind ``exc`` to be drawn once the cell has finished."""
    transcript = transcript_of(exc)
    if transcript is not None and not any(t is transcript for t in _pending):
        _pending.append(transcript)


def _draw_pending(*_args) -> None:
    """post_run_cell: draw the queued exchanges below the error (display_data, not stderr)."""
    from IPython.display import display

    while _pending:
        transcript = _pending.pop(0)
        try:
            picture = exchange.svg(transcript, title="the exchange")
        except Exception:  # noqa: BLE001, S112  # pragma: no cover - a drawing bug must not hide the failure
            continue
        display({"image/svg+xml": picture, "text/plain": "(the exchange, drawn as a sequence diagram)"},
                raw=True)


def _handler(shell, etype, value, tb, tb_offset=None):
    """IPython custom exception handler: the clean block, or the usual traceback without course_lib."""
    try:
        lines = render(value, shell)
        if lines is None:
            for e in _chain(value)[1:]:
                if e.__traceback__ is not None:
                    e.__traceback__ = without_harness(e.__traceback__)
            lines = shell.InteractiveTB.structured_traceback(etype, value, without_harness(tb),
                                                             tb_offset=tb_offset)
        elif _stub(value) is None:
            _draw_later(value)
    except Exception:  # noqa: BLE001 - whatever happens here, the cell must still show an error (and score 0)
        lines = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    shell._showtraceback(etype, value, lines)
    return lines


def install(shell=None) -> bool:
    """Render failures cleanly in this IPython kernel; True when installed.

    Does nothing outside IPython (pytest, scripts), and only once per shell.
    """
    if shell is None:
        if "IPython" not in sys.modules:
            return False
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    if getattr(shell, "_course_lib_failures", False):
        return True
    shell.set_custom_exc((Exception,), _handler)
    shell.events.register("post_run_cell", _draw_pending)
    shell._course_lib_failures = True
    return True


def load_ipython_extension(shell) -> None:
    """``--IPKernelApp.extensions=course_lib.failures`` (grading/nbgrader_config.py): install at kernel start.

    Needed where course_lib is imported before IPython's shell exists (the grading sandbox's kernel
    launcher), so that the import in the notebook's setup cell finds it already imported.
    """
    install(shell)
