# style: dict(...) with keyword arguments, "closed" derived from a negative fileno
def describe(sock):
    """Return {"family", "type", "proto", "fileno", "closed"} for an open or closed socket."""
    fileno = sock.fileno()
    return dict(family=sock.family, type=sock.type, proto=sock.proto, fileno=fileno, closed=fileno < 0)
