# mistake: looks only at exc.errno, never at the class: a ConnectionRefusedError without an errno is "other"
def classify(exc):
    """Return the category of a socket error: "resolution", "timeout", "would_block", "refused",
    "reset", "addr_in_use", "unreachable" or "other"."""
    if isinstance(exc, (socket.gaierror, socket.herror)):
        return "resolution"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, BlockingIOError):
        return "would_block"
    if not isinstance(exc, OSError):
        return "other"
    code = exc.errno
    if code in probes.REFUSED_ERRNOS:
        return "refused"
    if code in probes.RESET_ERRNOS:
        return "reset"
    if code in probes.ADDRINUSE_ERRNOS:
        return "addr_in_use"
    if code in probes.UNREACHABLE_ERRNOS:
        return "unreachable"
    return "other"
