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
    ``abbreviate(data, limit)``.
``course_lib.exchange``
    ``steps(transcript)``, ``text(transcript)``, ``svg(transcript)``: the
    exchange drawn as a sequence diagram (text for terminals, SVG for notebooks).
``course_lib.failures``
    ``CheckFailure`` (what checks raise), ``render(exc)``, ``install()``: in a
    notebook kernel, failures show as the clean block, never the harness's stack.
``course_lib.peers``
    Context managers yielding a peer with ``.address``, ``.port``,
    ``.family``, ``.transcript``, ``.received``, ``.sent``, ``.errors``:
    ``echo_server(family)``, ``line_server(transform)``,
    ``timestamp_server()``, ``udp_echo_server(drop_first)``,
    ``silent_server()``, ``dribble_server(payload, chunk)``,
    ``reset_server(read)``, ``close_midway_server(payload, cut)``,
    ``half_close_server(reply)``, ``late_server(delay)``;
    ``refused_address(family)``; reference clients ``connect(address,
    transcript, side, deadline=...)`` and ``udp_client(...)`` returning an
    ``Endpoint``; ``timestamp_reply(message)``.
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
    ``check_start_server``, ``check_echo_server``, ``check_timestamp_server``,
    ``check_sequential_server``, ``check_concurrent_server``,
    ``check_udp_echo_server``, ``check_reuseaddr_listener``,
    ``check_dualstack_server``, ``check_fetch_all``, ``check_request``,
    ``check_probe``, ``check_fetch_with_timeout``, ``check_framing``,
    ``check_send_msg``, ``check_recv_msg``,
    ``check_line_client``, ``check_recv_exactly``, ``check_udp_client``,
    ``check_sendfile``; each takes the learner's callable(s) and the keywords
    ``edge_cases`` (False for a visible test cell's basic scenario) and
    ``deadline``.

Section-specific checks live in ``course_lib.exercises``; the grading
pipeline in ``course_lib.grading`` and the command line in ``course_lib.cli``.
"""

from . import checks, exchange, failures, faults, peers, probes, resources, runners, timing, transcript

__all__ = ["checks", "exchange", "failures", "faults", "peers", "probes", "resources", "runners", "timing",
           "transcript"]

failures.install()  # in a notebook kernel: failures read at a glance (no-op elsewhere)
