# Mistake: relies on exception classes alone; "address in use" has no subclass, so it is only visible in errno.
def classify(exc):
    """Return the category of a socket error: "resolution", "timeout", "would_block", "refused",
    "reset", "addr_in_use", "unreachable" or "other"."""
    if isinstance(exc, (socket.gaierror, socket.herror)):
        return "resolution"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, BlockingIOError):
        return "would_block"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return "reset"
    return "other"
