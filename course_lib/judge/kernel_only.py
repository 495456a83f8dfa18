"""Graded cells the judge leaves to the notebook's own verdict, and why.

Each of these tests something that exists only inside the learner's process, so a call through the
channel cannot reproduce it: the judge does not run them, and `socket-course grade` notes them. (Cells
that wrap a call in a fault with a callable `when`/`look` are found at run time: client.Unjudgeable.)
A cell leaves this list when its check can observe the learner from outside: the list is empty since
every graded cell is judged (descriptor numbers and the default timeout through course_lib.learner,
pretend_platform/fake_getaddrinfo/count_connect_attempts as forwarded faults, a server's accepted
connections read live). Keep it for a cell nothing of that can express.
"""
KERNEL_ONLY: dict[str, dict[str, str]] = {}


def kernel_only(section: str) -> dict[str, str]:
    return KERNEL_ONLY.get(section, {})
