"""Graded cells the judge leaves to the notebook's own verdict, and why.

Each of these tests something that exists only inside the learner's process, so a call through the
channel cannot reproduce it: the judge does not run them, and `socket-course grade` notes them. (Cells
that wrap a call in a fault with a callable `when`/`look` are found at run time: client.Unjudgeable.)
A cell leaves this list when its check can observe the learner from outside (split's checks package may
express these helpers as faults.Forward blocks).
"""
KERNEL_ONLY: dict[str, dict[str, str]] = {
    "07_multiplexing": {
        "ex3_serve_many_hidden": "the check reads each accepted connection object in-process",
        "ex4_relay_hidden": "the check reads each accepted connection object in-process",
    },
}


def kernel_only(section: str) -> dict[str, str]:
    return KERNEL_ONLY.get(section, {})
