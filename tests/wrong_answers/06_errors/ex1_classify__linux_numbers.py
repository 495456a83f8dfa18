# mistake: compares errno with Linux's numbers (111, 104, 98, 113): wrong on macOS and Windows
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
    if isinstance(exc, ConnectionRefusedError) or code == 111:
        return "refused"
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)) or code in (104, 103, 32):
        return "reset"
    if code == 98:
        return "addr_in_use"
    if code in (101, 113):
        return "unreachable"
    return "other"
