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
    ``constant_available(name)``, ``feature_available(name)``,
    ``platform_summary()``, ``skip_unless(condition, reason)``,
    ``errno_name(code)``; errno sets ``REFUSED_ERRNOS``, ``RESET_ERRNOS``,
    ``UNREACHABLE_ERRNOS``, ``ADDRINUSE_ERRNOS``, ``TIMEOUT_ERRNOS``,
    ``WOULDBLOCK_ERRNOS``.
``course_lib.resources``
    ``open_fds()``, ``count_open_fds()``, ``describe_fd(fd)``,
    ``assert_no_fd_leak()``, ``assert_no_thread_leak()``, ``hard_close(sock)``,
    ``temp_unix_path()``, ``record_unclosed()``.
"""

from . import probes, resources, timing

__all__ = ["probes", "resources", "timing"]
