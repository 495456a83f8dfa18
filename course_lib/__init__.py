"""socket-course companion library: loopback harnesses for notebook exercises.

Every notebook test cell checks learner code through this package, so that a
wrong answer fails fast with a message a learner can act on, and nothing is
left running in the kernel afterwards.

Public API (shared harness)
---------------------------
``course_lib.timing``
    ``TIME_SCALE``, ``scaled(seconds)``, ``DEFAULT_DEADLINE``,
    ``Deadline(seconds)`` with ``.remaining()`` and ``.expired()``.
``course_lib.probes``
    ``ipv6_available()``, ``unix_available()``, ``dualstack_available()``,
    ``constant_available(name)``, ``feature_available(name)``, ``FEATURES``,
    ``platform_summary()``, ``skip_unless(condition, reason)``,
    ``errno_name(code)``, ``errno_sets(codes, platform)``; errno sets ``REFUSED_ERRNOS``, ``RESET_ERRNOS``,
    ``UNREACHABLE_ERRNOS``, ``ADDRINUSE_ERRNOS``, ``TIMEOUT_ERRNOS``,
    ``WOULDBLOCK_ERRNOS``; ``REFUSAL_DELAY`` (seconds a refused loopback
    connect may take: 0 on POSIX, about 2 on Windows).
``course_lib.resources``
    ``open_fds()``, ``count_open_fds()``, ``describe_fd(fd)``,
    ``assert_no_fd_leak()``, ``assert_no_thread_leak()``, ``hard_close(sock)``,
    ``temp_unix_path()``, ``record_unclosed()``.
``course_lib.transcript``
    ``Transcript`` (``sent``/``received``/``eof``/``shutdown``/``close``/
    ``reset``/``timeout``/``error``/``note``, ``sent_by(side)``,
    ``received_by(side)``, ``has(side, kind)``, ``format(limit=...)``),
    ``abbreviate(data, limit)``, ``show(value, limit, typed=...)``: the one way
    a value (bytes above all) is rendered for a learner.
``course_lib.exchange``
    ``steps(transcript)``, ``text(transcript)``, ``svg(transcript)``: the
    exchange drawn as a sequence diagram (text for terminals, SVG for notebooks).
``course_lib.failures``
    ``CheckFailure`` (what checks raise), ``render(exc)``, ``install()``: in a
    notebook kernel, failures show as the clean block, never the harness's stack;
    ``exception_name(exc)``, ``describe_exception(exc)``: the one way an
    exception is named and described.
``course_lib.endpoint``
    The harness's own sockets: ``Endpoint`` (a socket with a transcript, a
    deadline and a stop signal: ``recv``/``recv_exactly``/``recv_line``/
    ``recv_until_eof``/``sendall``/``exchange``/``recvfrom``/``sendto``/
    ``shutdown_wr``/``reset``/``close``, ``stop_when(waker)``, ``limit()``),
    ``Waker``, ``PeerStopped``, ``WaitTimeout``; reference clients
    ``connect(address, transcript, side, deadline=...)`` and ``udp_client(...)``;
    ``bind_loopback(sock) -> Bound``, ``loopback_address(family)``,
    ``refused_address(family)``; ``harness_threads`` (``t in harness_threads``).
``course_lib.peers``
    Context managers yielding a reference server (``Peer``) with ``.address``,
    ``.port``, ``.family``, ``.transcript``, ``.received``, ``.sent``,
    ``.errors``, ``wait_finished(count)``:
    ``echo_server(family)``, ``line_server(transform)``,
    ``timestamp_server()``, ``udp_echo_server(drop_first)``,
    ``silent_server()``, ``dribble_server(payload, chunk)``,
    ``reset_server(read)``, ``close_midway_server(payload, cut)``,
    ``half_close_server(reply)``, ``late_server(delay)``;
    ``timestamp_reply(message)``; re-exports ``Endpoint``, ``connect``,
    ``udp_client``, ``refused_address`` and ``loopback_address``.
``course_lib.runners``
    ``LearnerTimeout``, ``run_with_deadline(fn, *args, deadline, what, ...)``,
    ``run_client(client_fn, *args, peer, deadline)``,
    ``run_server(server_fn, client_script, *args, ...) -> ServerRun``,
    ``LearnerCall``, ``HarnessSocket``, ``harness_listener()``, ``shape(sock)``.
``course_lib.faults``
    Faults loopback never produces, for the learner's code only: ``short_sends()``,
    ``inject(method, error)``, ``refuse_family(*families)``, ``pretend_errnos(platform)``,
    ``watch(*methods)``/``watch_timeouts(*methods)``, ``record_sleeps()``,
    ``unresponsive_address()``; ``assert_exact(got, want, what)``,
    ``check_cleans_up(fn, *args, method, error, what)``.
``course_lib.checks``
    A package; every check is importable from ``course_lib.checks``.
    Sections 03-04 and the shared ones: ``check_start_server``,
    ``check_echo_server``, ``check_timestamp_server``,
    ``check_sequential_server``, ``check_concurrent_server``,
    ``check_udp_echo_server``, ``check_reuseaddr_listener``,
    ``check_dualstack_server``, ``check_fetch_all``, ``check_request``,
    ``check_probe``, ``check_fetch_with_timeout``, ``check_framing``,
    ``check_send_msg``, ``check_recv_msg``, ``check_line_client``,
    ``check_recv_exactly``, ``check_udp_client``, ``check_sendfile``;
    section 07: ``check_flush``, ``check_connect_nonblocking``,
    ``check_serve_many``, ``check_relay``, ``check_tls_echo`` (with
    ``loopback_ca``, ``tls_server``, ``unanswered_address``).  Each takes the
    learner's callable(s) and the keywords ``edge_cases`` (False for a
    visible test cell's basic scenario) and ``deadline``.  Modules:
    ``vocabulary`` (how a check fails), ``drivers`` (how learner code runs),
    ``servers``, ``listeners``, ``clients``, ``framing``, ``nonblocking``,
    ``watching``, ``multiplexed``, ``tls``, and per section ``creation``,
    ``constants``, ``utilities``, ``errors`` (with ``provoke``: real errors on
    demand).  Sections 01, 02, 05, 06: ``check_open_socket``, ``check_describe``,
    ``check_adopt``, ``check_inheritable_copy``, ``check_bind_all``;
    ``check_to_enums``, ``check_platform_support``, ``check_nonblocking_socket``,
    ``check_tune``, ``check_sniff``, ``check_ask``; ``check_to_wire``,
    ``check_ipv4_to_int``, ``check_normalize_ip``, ``check_resolve``,
    ``check_default_timeout``, ``check_recv_record``; ``check_classify``,
    ``check_claim_port``, ``check_port_status``, ``check_robust_send``,
    ``check_connect_with_retry``, ``check_first_reachable``.

The grading pipeline lives in ``course_lib.grading`` and the command line in
``course_lib.cli``.
"""

from . import checks, endpoint, exchange, failures, faults, peers, probes, resources, runners, timing, transcript

__all__ = ["checks", "endpoint", "exchange", "failures", "faults", "peers", "probes", "resources", "runners",
           "timing", "transcript"]

failures.install()  # in a notebook kernel: failures read at a glance (no-op elsewhere)
