"""Checks for section 06 (errors): the test cells of ``errors.ipynb`` call these.

Each check makes the errors it needs really happen (with :mod:`course_lib.checks.provoke`,
refusing and resetting peers, and :mod:`course_lib.faults` for what loopback never does: a
pretend macOS or Windows, an address that never answers, a failure injected into a call) and
fails with the learner's own value shown the way every check shows values.
"""

from __future__ import annotations

import errno
import os
import socket
import time

from .. import faults, probes
from ..learner import judged_kernel
from ..peers import echo_server, late_server, refused_address, reset_server
from ..probes import errno_name
from ..resources import temp_unix_path
from ..runners import run_with_deadline
from ..timing import scaled
from .provoke import (broken_pipe_is_deterministic, count_connect_attempts, describe, no_leaks, provoke, returned,
                      send_until_false)
from .drivers import _waits_out_silence
from .vocabulary import _fail

__all__ = ["check_classify", "check_claim_port", "check_port_status", "check_robust_send",
           "check_connect_with_retry", "check_first_reachable"]


def check_classify(classify, *, edge_cases: bool = True) -> None:
    """``classify(exc) -> str``: the kind of a socket error, by errno symbol and class, never by number.

    Basic: real refused, reset, timeout, would-block, address-in-use and resolution errors.  Edge
    cases: herror, broken pipe and aborts (reset), unreachable hosts and networks, timeouts, other
    errors, classes without an errno, and a pretend macOS's numbers.
    """
    for kind in ("refused", "reset", "timeout", "would_block", "addr_in_use", "resolution"):
        exc = provoke(kind)
        got = classify(exc)
        if got != kind:
            raise _fail(f"a real {kind} error, {describe(exc)}: expected {kind!r}, got {returned(got)}")
    if not edge_cases:
        return
    cases: list[tuple[BaseException, str]] = [
        (socket.herror(1, "Unknown host"), "resolution"),
        (BrokenPipeError(errno.EPIPE, "Broken pipe"), "reset"),
        (OSError(errno.ECONNABORTED, "Software caused connection abort"), "reset"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "unreachable"),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "unreachable"),
        (socket.timeout("timed out"), "timeout"),
        (OSError(errno.ETIMEDOUT, "Connection timed out"), "timeout"),
        (OSError(errno.EBADF, "Bad file descriptor"), "other"),
        (ValueError("not a socket error at all"), "other"),
    ]
    if probes.skip_unless(broken_pipe_is_deterministic(), "no AF_UNIX socketpair, real BrokenPipeError not checked"):
        cases.append((provoke("broken_pipe"), "reset"))
    for error, kind in cases:
        got = classify(error)
        if got != kind:
            raise _fail(f"classify({describe(error)}): expected {kind!r}, got {returned(got)}")
    # An error class without an errno, and the numbers of another platform (a pretend macOS).
    for exc, kind in [(ConnectionRefusedError("refused (no errno)"), "refused"),
                      (ConnectionResetError("reset (no errno)"), "reset")]:
        got = classify(exc)
        if got != kind:
            raise _fail(f"classify({describe(exc)}): expected {kind!r}, got {returned(got)}")
    with faults.pretend_errnos("darwin"):
        mac = [(OSError(errno.ECONNREFUSED, "Connection refused"), "refused"),
                (OSError(errno.ECONNRESET, "Connection reset by peer"), "reset"),
                (OSError(errno.EADDRINUSE, "Address already in use"), "addr_in_use"),
                (OSError(errno.EHOSTUNREACH, "No route to host"), "unreachable")]
        for exc, kind in mac:
            got = classify(exc)
            if got != kind:
                raise _fail(f"on a pretend macOS, where {errno_name(exc.errno)} is {exc.errno}, "
                            f"classify(OSError({exc.errno}, {exc.strerror!r})): expected {kind!r}, got "
                            f"{returned(got)}: compare with errno symbols or probes' sets, never numbers")


def check_claim_port(claim_port, *, edge_cases: bool = True) -> None:
    """``claim_port(host, port) -> socket | None``: a bound socket, or None only when the address is in use.

    Edge cases: other bind errors propagate, a pretend macOS's EADDRINUSE (48), and nothing left
    open.
    """
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        got = claim_port("127.0.0.1", busy)
        if got is not None:
            raise _fail(f"port {busy} is in use (a listening socket holds it): expected None, got {returned(got)}")
    got = claim_port("127.0.0.1", 0)
    try:
        if not isinstance(got, socket.socket):
            raise _fail(f"claim_port('127.0.0.1', 0) should return a socket, got {returned(got)}")
        host, port = got.getsockname()
        if not (host == "127.0.0.1" and port != 0):
            raise _fail(f"the socket should be bound to 127.0.0.1, got {(host, port)}")
    finally:
        if isinstance(got, socket.socket):
            got.close()
    if not edge_cases:
        return
    with no_leaks("claim_port"):
        with socket.socket() as owner:
            owner.bind(("127.0.0.1", 0))
            owner.listen()
            got = claim_port("127.0.0.1", owner.getsockname()[1])
            if got is not None:
                raise _fail(f"a port in use should give None, got {returned(got)}")
        try:
            got = claim_port("::1", 0)          # an IPv6 address for an IPv4 socket: not "in use"
        except OSError as exc:
            if exc.errno in probes.ADDRINUSE_ERRNOS:
                raise _fail(f"unexpected {exc!r}") from exc
        else:
            raise _fail(f"claim_port('::1', 0) fails for a reason other than 'address in use' (an IPv4 socket "
                        f"cannot bind an IPv6 address), so the error should propagate; got {returned(got)}")
    # A pretend macOS: "address in use" is errno 48 there, not Linux's 98.
    with no_leaks("claim_port"), socket.socket() as owner:
        owner.bind(("127.0.0.1", 0))
        owner.listen()
        with faults.pretend_errnos("darwin"):
            got = claim_port("127.0.0.1", owner.getsockname()[1])
        if got is not None:
            raise _fail(f"on a pretend macOS (EADDRINUSE is 48) a port in use should give None, got "
                        f"{returned(got)}: compare exc.errno with probes.ADDRINUSE_ERRNOS")


def check_port_status(port_status, *, edge_cases: bool = True) -> None:
    """``port_status(address) -> 'open' | 'closed' | strerror``: connect_ex's answer, in words.

    Edge cases: AF_UNIX paths (missing: ENOENT's text; no listener: closed), IPv6, a pretend
    Windows's refusal (10061), an address that never answers (the timeout's text), nothing left open.
    """
    with echo_server() as server:
        got = port_status(server.address)
        if got != "open":
            raise _fail(f"a listening echo server at {server.address}: expected 'open', got {returned(got)}")
    with refused_address() as address:
        got = port_status(address)
        if got != "closed":
            raise _fail(f"nobody listens at {address}: expected 'closed', got {returned(got)}")
    if not edge_cases:
        return
    with no_leaks("port_status"):
        with echo_server() as srv:
            if port_status(srv.address) != "open":
                raise _fail("a listening server should be 'open'")
        with refused_address() as refusing:
            if port_status(refusing) != "closed":
                raise _fail("a refused connection should be 'closed'")
    if probes.skip_unless(probes.unix_available(), "AF_UNIX is not available; the other-error case is not checked"):
        with temp_unix_path("nobody-here.sock") as missing:
            status = port_status(missing)
            want = os.strerror(errno.ENOENT)
            if status != want:
                raise _fail(f"connecting to an AF_UNIX path that does not exist fails with ENOENT, which "
                            f"is not 'refused': expected os.strerror(ENOENT) = {want!r}, got {returned(status)}")
        with refused_address(socket.AF_UNIX) as path:
            status = port_status(path)
            if status != "closed":
                raise _fail(f"an AF_UNIX path with no listener: expected 'closed', got {returned(status)}")
    if probes.skip_unless(probes.ipv6_available(), "::1 is not configured; the IPv6 case is not checked"):
        with echo_server(family=socket.AF_INET6) as srv:
            status = port_status(srv.address)
            if status != "open":
                raise _fail(f"an IPv6 echo server at {srv.address}: expected 'open', got {returned(status)}")
    # A pretend Windows (a refusal is 10061 there), and an address that never answers (the timeout).
    with no_leaks("port_status"), refused_address() as refusing, faults.pretend_errnos("win32"):
        status = port_status(refusing)
        if status != "closed":
            raise _fail(f"on a pretend Windows, where ECONNREFUSED is 10061, a refused connection "
                        f"should be 'closed', got {returned(status)}: compare with errno.ECONNREFUSED")
    with no_leaks("port_status"), faults.unresponsive_address() as silent:
        if probes.skip_unless(silent is not None, "connects never time out here; the timeout was not checked"):
            what, hint = "port_status(an address that never answers)", "set a timeout of one second before connect_ex"
            status = _waits_out_silence(lambda limit: run_with_deadline(port_status, silent, deadline=limit,
                                                                        what=what, hint=hint),
                                        scaled(1.0) + scaled(0.6), what, hint)
            texts = {os.strerror(c) for c in probes.WOULDBLOCK_ERRNOS | probes.TIMEOUT_ERRNOS}
            if status not in texts:
                raise _fail(f"when nobody answers, connect_ex reports the timeout as an error code "
                            f"(EAGAIN/EWOULDBLOCK here): expected one of {sorted(texts)}, got "
                            f"{returned(status)}")


def check_robust_send(robust_send, *, edge_cases: bool = True) -> None:
    """``robust_send(sock, data) -> bool``: True once sent, False when the peer has gone.

    Basic: a live peer gets the bytes; a closed peer gives False.  Edge cases: a server that resets,
    a socket the caller already closed (the OSError propagates), short sends (sendall needed), and
    ConnectionAborted/ConnectionReset (False).
    """
    a, b = socket.socketpair()
    with a, b:
        b.settimeout(scaled(1.0))
        got = robust_send(a, b"hello")
        if got is not True:
            raise _fail(f"sending to a live peer should return True, got {returned(got)}")
        seen = b""
        while len(seen) < 5:
            chunk = b.recv(5 - len(seen))
            if not chunk:
                raise _fail("the peer saw the connection end before b'hello' arrived")
            seen += chunk
        if seen != b"hello":
            raise _fail(f"the peer should receive b'hello', got {seen!r}")
        b.close()
        send_until_false(robust_send, a, b"more", deadline=scaled(1.0))
    if not edge_cases:
        return
    with reset_server(read=1) as server:
        with socket.create_connection(server.address, timeout=scaled(1.0)) as s:
            if robust_send(s, b"x") is not True:
                raise _fail("the first send to a live server should return True")
            send_until_false(robust_send, s, b"y" * 100, deadline=scaled(1.0))   # the server resets
    closed = socket.socket()
    closed.close()
    try:
        got = robust_send(closed, b"x")
    except OSError as exc:
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            raise _fail(repr(exc)) from exc
    else:
        raise _fail(f"sending on a socket that was already closed is a bug in the caller (EBADF), not a peer that "
                    f"went away: the OSError should propagate, but robust_send returned {got!r}")
    # send() may send only part of the data (here it always does); Windows aborts where Linux resets.
    x, y = socket.socketpair()
    with x, y:
        y.settimeout(scaled(1.0))
        with faults.short_sends():
            got = robust_send(x, b"0123456789" * 1000)
        x.shutdown(socket.SHUT_WR)
        arrived = bytearray()
        while (chunk := y.recv(65536)):
            arrived += chunk
        if not (got is True and len(arrived) == 10000):
            raise _fail(f"when send() sends only part of its data, robust_send returned {returned(got)} and the peer "
                        f"received {len(arrived)} of 10000 bytes: use sendall()")
        for error in (ConnectionAbortedError(errno.ECONNABORTED, "Software caused connection abort"),
                       ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")):
            with faults.inject("sendall", error), faults.inject("send", error):
                got = robust_send(y, b"x")
            if got is not False:
                raise _fail(f"when sending fails with {type(error).__name__} the peer is gone: "
                            f"expected False, got {returned(got)}")


def check_connect_with_retry(connect_with_retry, *, edge_cases: bool = True) -> None:
    """``connect_with_retry(address, budget, first_delay=...)``: retry refusals with doubling delays, within the budget.

    Basic: a server that starts late, and an address that always refuses (ConnectionRefusedError soon
    after the budget).  Edge cases: sleeps that fit the budget, the number of attempts, doubling
    delays, other errors propagating at once, and each attempt's timeout the time left.
    """
    with late_server(scaled(0.08)) as server:
        sock = run_with_deadline(connect_with_retry, server.address, scaled(1.5), deadline=scaled(2.5),
                                  what="connect_with_retry(a server that starts after 0.08 s, budget 1.5 s)",
                                  transcript=server.transcript)
        if not isinstance(sock, socket.socket):
            raise _fail(f"connect_with_retry should return a socket, got {sock!r}")
        with sock:
            if sock.getpeername() != server.address:
                raise _fail(f"connected to {sock.getpeername()}, expected {server.address}")
            sock.settimeout(scaled(1.0))
            sock.sendall(b"hi")
            echo = b""
            while len(echo) < 2:
                chunk = sock.recv(2 - len(echo))
                if not chunk:
                    raise _fail(f"the echo server closed early; it sent {echo!r}")
                echo += chunk
            if echo != b"hi":
                raise _fail(f"the echo server should send back b'hi', got {echo!r}")

    with refused_address() as address:
        start = time.monotonic()
        try:
            got = run_with_deadline(connect_with_retry, address, scaled(0.1),
                                    deadline=scaled(2.0) + probes.REFUSAL_DELAY,
                                    what="connect_with_retry(an address that always refuses, budget 0.1 s)")
        except (ConnectionRefusedError, TimeoutError) as _exc:   # TimeoutError: Windows' slow refusals
            elapsed = time.monotonic() - start
            if not (isinstance(_exc, ConnectionRefusedError) or probes.REFUSAL_DELAY):
                raise _fail(f"nothing listens at {address}: expected ConnectionRefusedError, got {_exc!r}") from _exc
            if not (elapsed < scaled(0.1) + scaled(0.6) + probes.REFUSAL_DELAY):
                raise _fail("with a 0.1 s budget connect_with_retry should give up soon after 0.1 s; it took "
                            f"{elapsed:.2f} s") from _exc
        else:
            raise _fail(f"nothing listens at {address}: expected ConnectionRefusedError, got {returned(got)}")
    if not edge_cases:
        return
    with refused_address() as nowhere:
        t0 = time.monotonic()
        try:
            got = run_with_deadline(connect_with_retry, nowhere, scaled(0.08), 5.0,
                                    deadline=scaled(1.0) + probes.REFUSAL_DELAY,
                                    what="connect_with_retry(refusing address, budget 0.08 s, first_delay 5 s)",
                                    hint="the budget also limits the sleeps: sleep min(delay, time left)")
        except (ConnectionRefusedError, TimeoutError) as _exc:   # TimeoutError: Windows' slow refusals
            if not (isinstance(_exc, ConnectionRefusedError) or probes.REFUSAL_DELAY):
                raise _fail(f"expected ConnectionRefusedError, got {_exc!r}") from _exc
        else:
            raise _fail(f"expected ConnectionRefusedError, got {returned(got)}")
        took = time.monotonic() - t0
        if not (took < scaled(0.08) + scaled(0.45) + probes.REFUSAL_DELAY):
            raise _fail(f"budget 0.08 s with first_delay 5 s took {took:.2f} s; never sleep past the budget")

    with no_leaks("connect_with_retry"):
        with refused_address() as nowhere, count_connect_attempts() as counter:
            try:
                got = run_with_deadline(connect_with_retry, nowhere, scaled(0.15), scaled(0.005),
                                        deadline=scaled(1.5) + probes.REFUSAL_DELAY,
                                        what="connect_with_retry(budget 0.15 s, first_delay 0.005 s)")
            except (ConnectionRefusedError, TimeoutError) as _exc:   # TimeoutError: Windows' slow refusals
                if not (isinstance(_exc, ConnectionRefusedError) or probes.REFUSAL_DELAY):
                    raise _fail(f"expected ConnectionRefusedError, got {_exc!r}") from _exc
            else:
                raise _fail(f"expected ConnectionRefusedError, got {returned(got)}")
    if probes.skip_unless(not probes.REFUSAL_DELAY, "a refusal takes about 2 s here: the backoff is not counted"):
        if not (3 <= counter.attempts <= 10):
            raise _fail(f"with a 0.15 s budget and delays of 5, 10, 20, 40, 80 ms there is room for about 6 attempts; "
                        f"connect_with_retry made {counter.attempts} (too many means the delay does not double, too "
                        "few "
                        f"means it gave up early)")
    # The delays double; other errors and a timeout are not refusals; each attempt's wait fits the budget.
    with refused_address() as nowhere, faults.record_sleeps() as delays:
        try:
            run_with_deadline(connect_with_retry, nowhere, scaled(0.16), 0.01, deadline=scaled(1.5),
                              what="connect_with_retry(refusing address, budget 0.16 s)")
        except ConnectionRefusedError:
            pass
    if delays:  # (not checked if it sleeps through something other than time.sleep)
        if not (abs(delays[0] - 0.01) < 1e-9):
            raise _fail(f"the first delay should be first_delay (0.01 s), got {delays[0]}")
        ratios = [b / a for a, b in zip(delays, delays[1:-1], strict=False) if a > 0]
        if not all(abs(r - 2) < 1e-6 for r in ratios):
            raise _fail(f"the delays were {[round(d, 4) for d in delays]}: each should be twice the one before "
                        "(only the "
                        f"last may be cut short by the budget)")
    if delays.knocks is not None:  # judged: the attempts as they left on the kernel's loopback
        gaps = [b - a for a, b in zip(delays.knocks, delays.knocks[1:], strict=False)]
        least = [0.01 * 2 ** k for k in range(len(gaps))]
        short = [k for k, gap in enumerate(gaps[:-1]) if gap < least[k] - 0.002]  # the last may be cut
        if short:
            k = short[0]
            raise _fail(f"attempt {k + 2} came {gaps[k] * 1000:.1f} ms after attempt {k + 1} (seen on the wire); "
                        f"with first_delay 0.01 s the waits between attempts double, so it should have come "
                        f"at least {least[k] * 1000:.0f} ms later",
                        expected=f"gaps of at least {', '.join(f'{d * 1000:.0f}' for d in least[:len(gaps) - 1])} ms"
                                 " (the last may be cut short by the budget)",
                        got=f"{', '.join(f'{g * 1000:.1f}' for g in gaps)} ms")
    for other in (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer (injected)"),
                   OSError(errno.ENETUNREACH, "Network is unreachable (injected)")):
        with no_leaks("connect_with_retry"), refused_address() as nowhere,\
                faults.inject("connect", other, after=1) as seen:
            start = time.monotonic()
            try:
                got = run_with_deadline(connect_with_retry, nowhere, scaled(0.3), deadline=scaled(1.5),
                                        what=f"connect_with_retry (refused, then {type(other).__name__})")
            except OSError as exc:
                if exc is not other:
                    raise _fail(f"expected the {type(other).__name__} to propagate, got {exc!r}") from exc
            else:
                raise _fail(f"expected {type(other).__name__}, got {returned(got)}")
            took = time.monotonic() - start
        # (in a judge the calls are the kernel's count; the clock is its own: one refusal, one delay of
        # 10 ms, then the error; retried, it comes back at every attempt until the 0.3 s budget is spent)
        if seen.calls != 2 or (judged_kernel() is not None and took > scaled(0.15)):
            tried = f"tried {seen.calls} times" if seen.calls != 2 else f"kept trying for {took:.2f} s"
            raise _fail(f"the second attempt failed with {type(other).__name__}, which is not a refusal: "
                        f"it should propagate at once, but connect_with_retry {tried}")
    with no_leaks("connect_with_retry"), faults.unresponsive_address() as silent:
        if probes.skip_unless(silent is not None, "connects never time out here; the per-attempt timeout was not "
                                                   "checked"):
            t0 = time.monotonic()
            try:
                got = run_with_deadline(connect_with_retry, silent, scaled(0.15), deadline=scaled(1.5),
                                        what="connect_with_retry(an address that never answers, budget 0.15 s)",
                                        hint="give each attempt the time left in the budget as its timeout")
            except OSError:
                pass
            else:
                raise _fail(f"nobody answers: expected TimeoutError, got {returned(got)}")
            took = time.monotonic() - t0
            if not (took < scaled(0.15) + scaled(0.4)):
                raise _fail(f"budget 0.15 s, but the attempt waited {took:.2f} s: each attempt's timeout is the time "
                            "left")


def check_first_reachable(first_reachable, *, edge_cases: bool = True) -> None:
    """``first_reachable(addresses, timeout) -> socket``: the first (family, address) that connects.

    Basic: a refusing address then an echo server; all refusing (ConnectionRefusedError).  Edge
    cases: OverflowError propagates at once, an empty list (ValueError), mixed families, a family
    that cannot be created, a silent address (timeout), nothing left open.
    """
    with no_leaks("first_reachable"):
        with echo_server() as server, refused_address() as dead:
            sock = first_reachable([(socket.AF_INET, dead), (socket.AF_INET, server.address)], scaled(1.0))
            try:
                if not isinstance(sock, socket.socket):
                    raise _fail(f"expected a connected socket, got {sock!r}")
                if sock.getpeername() != server.address:
                    raise _fail(f"the first address refuses, the second is an echo server at {server.address}; "
                                f"connected to {sock.getpeername()}")
            finally:
                if isinstance(sock, socket.socket):
                    sock.close()
    with no_leaks("first_reachable"):
        with refused_address() as dead1, refused_address() as dead2:
            try:
                got = first_reachable([(socket.AF_INET, dead1), (socket.AF_INET, dead2)],
                                      scaled(1.0) + probes.REFUSAL_DELAY)   # Windows refuses after ~2 s
            except ConnectionRefusedError:
                pass
            else:
                raise _fail(f"every address refuses: expected ConnectionRefusedError, got {returned(got)}")
    if not edge_cases:
        return
    with no_leaks("first_reachable (hidden tests)"):
        try:
            got = first_reachable([(socket.AF_INET, ("127.0.0.1", 70000))], scaled(1.0))
        except OverflowError:
            pass
        else:
            raise _fail(f"port 70000 does not exist: expected OverflowError, got {returned(got)}")
    with no_leaks("first_reachable (hidden tests)"):
        with echo_server() as srv, refused_address() as gone:
            bad = ("127.0.0.1", 70000)
            try:
                got = first_reachable([(socket.AF_INET, gone), (socket.AF_INET, bad),
                                       (socket.AF_INET, srv.address)], scaled(1.0))
            except OverflowError:
                pass
            else:
                raise _fail("an OverflowError (port 70000) is a bug in the input, not a network failure: it should "
                            f"propagate at once instead of moving on to the next address; got {returned(got)}")
    try:
        got = first_reachable([], scaled(1.0))
    except ValueError:
        pass
    else:
        raise _fail(f"an empty list should raise ValueError, got {returned(got)}")
    if probes.skip_unless(probes.ipv6_available(), "::1 is not configured; the mixed-family case is not checked"):
        with no_leaks("first_reachable (hidden tests)"):
            with echo_server() as srv, refused_address(socket.AF_INET6) as dead6:
                sock = first_reachable([(socket.AF_INET6, dead6), (socket.AF_INET, srv.address)],
                                        scaled(1.0))
                with sock:
                    if sock.getpeername() != srv.address:
                        raise _fail(f"connected to {sock.getpeername()}")
    # A family this machine cannot create is a failed attempt like any other; a silent address times out.
    with no_leaks("first_reachable (hidden tests)"):
        with echo_server() as srv, faults.refuse_family(socket.AF_INET6):
            sock = first_reachable([(socket.AF_INET6, ("::1", srv.port, 0, 0)), (socket.AF_INET, srv.address)],
                                    scaled(1.0))
            with sock:
                if sock.getpeername() != srv.address:
                    raise _fail(f"connected to {sock.getpeername()}")
        with faults.refuse_family(socket.AF_INET6):
            try:
                got = first_reachable([(socket.AF_INET6, ("::1", 9, 0, 0))], scaled(1.0))
            except OSError as exc:
                if exc.errno != errno.EAFNOSUPPORT:
                    raise _fail(f"expected the socket() error, got {exc!r}") from exc
            else:
                raise _fail(f"no address can be tried: expected the OSError, got {returned(got)}")
    with no_leaks("first_reachable (hidden tests)"), faults.unresponsive_address() as silent, echo_server() as srv:
        if probes.skip_unless(silent is not None, "connects never time out here; the timeout was not checked"):
            what, hint = "first_reachable(silent, then echo, timeout 0.3 s)", "set the timeout before connect()"
            sock = _waits_out_silence(lambda limit: run_with_deadline(
                first_reachable, [(socket.AF_INET, silent), (socket.AF_INET, srv.address)], scaled(0.3),
                deadline=limit, what=what, hint=hint), scaled(1.5), what, hint)
            with sock:
                if sock.getpeername() != srv.address:
                    raise _fail(f"connected to {sock.getpeername()}")
