# Mistake: converts family and type to plain ints, losing the enum names (AF_INET prints as 2).
def describe(sock):
    """Return {"family", "type", "proto", "fileno", "closed"} for an open or closed socket."""
    fd = sock.fileno()
    return {
        "family": int(sock.family),
        "type": int(sock.type),
        "proto": sock.proto,
        "fileno": fd,
        "closed": fd == -1,
    }
