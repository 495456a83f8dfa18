"""The drivers every check runs learner code through: a call, a server, a socketpair.

Why this module exists: a check never calls learner code directly; it calls
it through one of three drivers, each with a deadline, each turning the
learner's exceptions into failures and cleaning up whatever it started:
``_call`` (a function, maybe against a reference peer), ``_serve`` (a
server function, driven by a scripted reference client) and
``_learner_io`` (a function working on one end of a socketpair while the
check drives the other).  Shared test data (``MIB``, ``UTF8_TEXT``) lives
here too.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import time

from .. import exchange, faults
from ..endpoint import PeerStopped, WaitTimeout, Waker
from ..learner import judged_kernel
from ..runners import LearnerCall, LearnerTimeout, harness_listener, run_client, run_server, run_with_deadline
from ..timing import DEFAULT_DEADLINE, scaled
from ..transcript import Transcript
from .vocabulary import _SENDALL_HINT, _explain, _fail, _unjoined

MIB = 1 << 20


#: Multi-byte UTF-8 sample: characters of 2, 3 and 4 bytes.
UTF8_TEXT = "héllo wörld ✓ 你好 🌏"


_BIG = bytes(range(256)) * (MIB // 256)  # 1 MiB, every byte value, no long runs


def _seconds(deadline: float | None) -> float:
    return DEFAULT_DEADLINE if deadline is None else deadline


def _patience(deadline: float | None) -> float:
    """How long a reference peer waits: longer than the learner's deadline,
    so that a stuck learner is caught by its deadline (with the right
    message) rather than by the peer giving up first."""
    return 2 * _seconds(deadline) + scaled(0.5)


def _call(fn, *args, what: str, deadline=None, transcript=None, peer=None,
          expected=None, hint=None):
    """Run learner code with a deadline, turning its exceptions into friendly failures."""
    try:
        if peer is not None:
            return run_client(fn, *args, peer=peer, deadline=_seconds(deadline), what=what,
                              expected=expected, hint=hint)
        return run_with_deadline(fn, *args, deadline=_seconds(deadline), what=what,
                                 transcript=transcript, expected=expected, hint=hint)
    except LearnerTimeout:
        raise
    except BaseException as exc:
        raise _explain(exc, what, peer.transcript if peer is not None else transcript) from exc


def _serve(server_fn, script, *args, what: str, deadline=None, expected=None, hint=None,
           transcript=None, listener=None, **kw):
    """run_server, with learner exceptions explained and client trouble described."""
    transcript = Transcript() if transcript is None else transcript
    if listener is None:
        listener = harness_listener(backlog=max(16, kw.pop("backlog", 16)), **kw)
    try:
        return run_server(server_fn, script, *args, deadline=_seconds(deadline), what=what,
                          expected=expected, hint=hint, transcript=transcript, listener=listener)
    except (LearnerTimeout, NotImplementedError):
        raise
    except AssertionError as exc:
        if listener.run.finished_before(exc) and listener.run.error is None:
            if listener.run.orphans:  # the real reason the client was cut off
                raise _unjoined(what, listener.run.orphans, transcript) from exc
            first, _, rest = str(exc).partition("\n")
            raise AssertionError(f"{first}\nNote: {what} had already returned, after accepting "
                                 f"{len(listener.accepted)} connection(s).\n{rest}"
                                 ) from exc.__cause__
        raise
    except BaseException as exc:
        if exc is listener.run.error or not isinstance(exc, (WaitTimeout, EOFError, OSError)):
            raise _explain(exc, what, transcript) from exc
        if sum(c.short_sends_made for c in listener.accepted):
            hint = _SENDALL_HINT
        if listener.run.finished_before(exc):
            if listener.run.orphans:
                raise _unjoined(what, listener.run.orphans, transcript) from exc
            happened = (f"{what} returned (after accepting {len(listener.accepted)} "
                        f"connection(s)) before the client was served; the client then saw: "
                        f"{exc}")
        else:
            happened = f"the reference client gave up: {exc}"
        raise _fail(happened, expected=expected, hint=hint, transcript=transcript) from exc


#: "a timeout (a few seconds)": the longest a client may wait for a server that never answers
FEW_SECONDS = 10.0
_TIMEOUT_HINT = "socket.create_connection(address, timeout=2.0), or sock.settimeout(2.0) before connecting"


def _timeout_required(what: str, *methods: str, silent=None, server=None):
    """Decorate a client check: with edge cases, the learner's socket must have a timeout when it waits.

    Checked after the check's own scenario passed (a wrong reply is the bigger news); a client with
    no timeout hangs for ever on the first server that does not answer. The timeouts are watched as
    the scenario runs (faults.watch_timeouts), which is what the learner's kernel reports. In the judge,
    where that report is not trusted, ``silent(port)`` (the arguments of a call to a server that accepts
    and never answers, or a context manager giving them) is called as well, and the clock decides
    (_ends_against_silence); ``server`` makes that server (peers.silent_server by default).
    """
    def decorate(check):
        @functools.wraps(check)
        def checked(fn, *args, edge_cases: bool = True, **kwargs):
            if not edge_cases:
                return check(fn, *args, edge_cases=edge_cases, **kwargs)
            with faults.watch_timeouts(*methods) as seen:
                result = check(fn, *args, edge_cases=edge_cases, **kwargs)
            if None in seen:
                raise _fail(f"{what} waited on a socket without a timeout: against a server that never "
                            f"answers it would wait for ever.", hint=_TIMEOUT_HINT)
            if silent is not None and judged_kernel() is not None:
                _ends_against_silence(fn, silent, what, server)
            return result
        return checked
    return decorate


def _ends_against_silence(fn, silent, what: str, server=None) -> None:
    """``fn(*silent(port))`` against a server that accepts and never answers ends (returns, or raises its
    timeout) within FEW_SECONDS, its timeouts quickened fifty times: a few seconds become a tenth."""
    from ..peers import silent_server

    limit = scaled(FEW_SECONDS)
    label = f"{what} against a server that never answers"

    def call(deadline: float):
        given = silent(srv.port)
        with given if hasattr(given, "__enter__") else contextlib.nullcontext(given) as args:
            try:
                return run_with_deadline(fn, *args, deadline=deadline, what=label, hint=_TIMEOUT_HINT)
            except OSError:  # its timeout, propagated: an answer
                return None

    with (server or silent_server)(timeout=limit + scaled(2.0)) as srv:
        _waits_out_silence(call, limit, label, _TIMEOUT_HINT, factor=50.0)


def _learner_io(fn, args, what, transcript, deadline, ep=None, work=None):
    """Run learner code on one end of a socketpair while ``work(ep)`` drives the other.

    ``work`` runs in this thread; if the learner's function returns (or
    raises) first, ``ep``'s waits end at once (PeerStopped, after reading
    what is already there) instead of at the deadline.  Returns
    (learner result, work result or the PeerStopped/WaitTimeout/EOFError it
    raised).  The learner's exceptions are explained; its socket is closed
    if it is abandoned.
    """
    waker = Waker()
    call = LearnerCall(fn, args, what=what, on_finish=waker.set).start()
    seconds = _seconds(deadline)
    outcome = None
    try:
        if work is not None:
            ep.stop_when(waker)
            try:
                outcome = work(ep)
            except (PeerStopped, WaitTimeout, EOFError) as exc:
                outcome = exc
            finally:
                ep.stop_when(None)
        if not call.wait(seconds if ep is None else ep.limit()):
            raise LearnerTimeout(f"{what} did not return within {seconds:.1f} s.\n"
                                 f"  the exchange:\n{exchange.text(transcript)}")
        try:
            return call.result(), outcome
        except (NotImplementedError, AssertionError):
            raise
        except BaseException as exc:
            raise _explain(exc, what, transcript) from exc
    finally:
        if not call.done.is_set():
            call.abandon([a for a in args if isinstance(a, socket.socket)])
        waker.close()


def _attempt(fn, *args, what: str, deadline=None, peer=None, transcript=None,
             expected=None, hint=None):
    """Call learner code; return (value, None) or (None, the learner's own exception).

    Why: some cases expect an exception (a refused connect, a wrong
    certificate).  The learner's frames are released at once (tracebacks
    cleared), so a socket it forgot to close is reported by
    ``record_unclosed`` around this call, not kept alive by the traceback.
    """
    try:
        return _call(fn, *args, what=what, deadline=deadline, peer=peer, transcript=transcript,
                     expected=expected, hint=hint), None
    except (LearnerTimeout, NotImplementedError):
        raise
    except AssertionError as exc:
        cause = exc.__cause__
        if cause is None:
            raise
        seen = set()
        e: BaseException | None = cause
        while e is not None and id(e) not in seen:
            seen.add(id(e))
            e.__traceback__ = None
            e = e.__cause__ or e.__context__
        return None, cause


#: how much sooner the learner's timeouts expire while a check waits out a peer that never answers
QUICKER = 5.0


def _waits_out_silence(call, limit: float, what: str, hint: str, factor: float = QUICKER):
    """``call(deadline)`` makes the learner's code wait for a peer that never answers, which should
    give up after about a second (at most ``limit``); its result.

    The call is made with the learner's timeouts expiring ``factor`` times sooner (faults.quick_timeouts),
    but only the clock is trusted: returning within ``limit / factor`` and a little proves a timeout
    of at most about ``limit`` was quickened. A call slower than that waits some other way (``select``)
    or for too long, so it is made again as it is, and must end within ``limit``. The timeouts the code
    asked for (what the kernel's faults report) only word the failure of a timeout that is too long.
    """
    with faults.quick_timeouts(factor) as asked:
        start = time.monotonic()
        result = call(limit)
        took = time.monotonic() - start
    if asked and max(asked) > limit:
        raise _fail(f"{what}, it set a timeout of {max(asked):g} s: it would wait that long for an answer "
                    f"that never comes.", expected=f"a timeout of at most {limit:.1f} s", hint=hint)
    if took <= limit / factor + scaled(0.1):
        return result
    if hasattr(result, "close"):  # (a socket it returned: the call is made again)
        result.close()
    return call(limit)
