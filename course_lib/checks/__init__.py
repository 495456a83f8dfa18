"""High-level checks that notebook test cells call on learner code.

Why this module exists: a notebook test cell should be one line, and that
line should run a whole scenario, edge cases included, the way trio's
``check_one_way_stream`` does for a stream factory.  Each check takes the
learner's callable, drives it against a reference peer (or a reference
client) on loopback, and on failure raises :class:`~course_lib.failures.CheckFailure`
(an ``AssertionError``) with what was expected, what happened, and the
transcript of bytes each side sent.

Every check accepts ``edge_cases`` (False: the basic scenario, for the
visible test cell; True, the default: the basic scenario plus the edge
cases, for the hidden cell), and those that run learner code on a thread
``deadline`` (seconds per learner call, default
:data:`course_lib.timing.DEFAULT_DEADLINE`); ``check_dualstack_server``
has no edge cases (it returns False when the platform has no dual-stack
sockets, True otherwise).  Most checks return None; a few return what the
learner's function gave in the basic scenario, for the visible cell to
print.

The package's rooms: :mod:`.vocabulary` (how a check fails: ``_fail``,
``_show``, ``_explain``, the shared hints), :mod:`.drivers` (how learner
code is run: ``_call``, ``_serve``, ``_learner_io``), and the checks grouped
by the driver they share: :mod:`.servers`, :mod:`.listeners`,
:mod:`.clients`, :mod:`.framing`, :mod:`.nonblocking`, :mod:`.watching` (the
selector servers' driver), :mod:`.multiplexed`, :mod:`.tls`; the checks of
sections 01, 02, 05 and 06, which call the learner's function directly and
inspect what it returns, in :mod:`.creation`, :mod:`.constants`,
:mod:`.utilities` and :mod:`.errors` (:mod:`.provoke` makes real errors
happen).  Import the checks from here
(``from course_lib import checks; checks.check_echo_server(...)``).
"""

from __future__ import annotations

from .clients import (
    check_fetch_all,
    check_fetch_with_timeout,
    check_line_client,
    check_probe,
    check_request,
    check_sendfile,
    check_udp_client,
)
from .constants import (check_ask, check_nonblocking_socket, check_platform_support, check_sniff, check_to_enums,
                        check_tune)
from .creation import check_adopt, check_bind_all, check_describe, check_inheritable_copy, check_open_socket
from .drivers import MIB, UTF8_TEXT
from .errors import (check_claim_port, check_classify, check_connect_with_retry, check_first_reachable,
                     check_port_status, check_robust_send)
from .framing import check_framing, check_recv_exactly, check_recv_msg, check_send_msg
from .listeners import check_dualstack_server, check_reuseaddr_listener, check_start_server
from .servers import (
    check_concurrent_server,
    check_echo_server,
    check_sequential_server,
    check_timestamp_server,
    check_udp_echo_server,
)
from .multiplexed import check_relay, check_serve_many
from .nonblocking import check_connect_nonblocking, check_flush, unanswered_address
from .tls import check_tls_echo, loopback_ca, tls_server
from .utilities import (check_default_timeout, check_ipv4_to_int, check_normalize_ip, check_recv_record,
                        check_resolve, check_to_wire)
from .vocabulary import _fail as _fail  # the failure vocabulary (tests, CONTRIBUTING)
from .vocabulary import _show as _show

__all__ = [
    "check_start_server",
    "check_echo_server",
    "check_timestamp_server",
    "check_sequential_server",
    "check_concurrent_server",
    "check_udp_echo_server",
    "check_reuseaddr_listener",
    "check_dualstack_server",
    "check_fetch_all",
    "check_request",
    "check_probe",
    "check_fetch_with_timeout",
    "check_framing",
    "check_send_msg",
    "check_recv_msg",
    "check_line_client",
    "check_recv_exactly",
    "check_udp_client",
    "check_sendfile",
    "check_flush",
    "check_connect_nonblocking",
    "check_serve_many",
    "check_relay",
    "check_tls_echo",
    "loopback_ca",
    "tls_server",
    "unanswered_address",
    "check_open_socket",
    "check_describe",
    "check_adopt",
    "check_inheritable_copy",
    "check_bind_all",
    "check_to_enums",
    "check_platform_support",
    "check_nonblocking_socket",
    "check_tune",
    "check_sniff",
    "check_ask",
    "check_classify",
    "check_claim_port",
    "check_port_status",
    "check_robust_send",
    "check_connect_with_retry",
    "check_first_reachable",
    "check_to_wire",
    "check_ipv4_to_int",
    "check_normalize_ip",
    "check_resolve",
    "check_default_timeout",
    "check_recv_record",
    "MIB",
    "UTF8_TEXT",
]
