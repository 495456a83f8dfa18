# Mistake: hard-codes "closed": False, as if describe() were only ever called on open sockets.
def describe(sock):
    """Return {"family", "type", "proto", "fileno", "closed"} for an open or closed socket."""
    return {
        "family": sock.family,
        "type": sock.type,
        "proto": sock.proto,
        "fileno": sock.fileno(),
        "closed": False,
    }
