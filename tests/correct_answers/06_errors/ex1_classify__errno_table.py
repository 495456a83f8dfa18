# style: subclasses first, then a table from errno sets to kinds
def classify(exc):
    """Return the category of a socket error: "resolution", "timeout", "would_block", "refused",
    "reset", "addr_in_use", "unreachable" or "other"."""
    if isinstance(exc, (socket.gaierror, socket.herror)):
        return "resolution"
    if isinstance(exc, socket.timeout):
        return "timeout"
    if isinstance(exc, BlockingIOError):
        return "would_block"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return "reset"
    if not isinstance(exc, OSError):
        return "other"
    table = [(probes.REFUSED_ERRNOS, "refused"), (probes.RESET_ERRNOS, "reset"),
             (probes.ADDRINUSE_ERRNOS, "addr_in_use"), (probes.UNREACHABLE_ERRNOS, "unreachable")]
    for codes, kind in table:
        if exc.errno in codes:
            return kind
    return "other"
