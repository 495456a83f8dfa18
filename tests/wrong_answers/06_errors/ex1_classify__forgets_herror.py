# Mistake: treats only gaierror as a resolution failure and forgets herror from the legacy lookups.
def classify(exc):
    """Return the category of a socket error: "resolution", "timeout", "would_block", "refused",
    "reset", "addr_in_use", "unreachable" or "other"."""
    if isinstance(exc, socket.gaierror):
        return "resolution"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, BlockingIOError):
        return "would_block"
    if not isinstance(exc, OSError):
        return "other"
    code = exc.errno
    if isinstance(exc, ConnectionRefusedError) or code in probes.REFUSED_ERRNOS:
        return "refused"
    if (isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError))
            or code in probes.RESET_ERRNOS):
        return "reset"
    if code in probes.ADDRINUSE_ERRNOS:
        return "addr_in_use"
    if code in probes.UNREACHABLE_ERRNOS:
        return "unreachable"
    return "other"
