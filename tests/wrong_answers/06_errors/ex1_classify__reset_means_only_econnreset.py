# Mistake: counts only ConnectionResetError as "reset"; a broken pipe or an aborted connection is the same situation.
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
    if code == errno.ECONNREFUSED:
        return "refused"
    if code == errno.ECONNRESET:
        return "reset"
    if code == errno.EADDRINUSE:
        return "addr_in_use"
    if code in probes.UNREACHABLE_ERRNOS:
        return "unreachable"
    return "other"
