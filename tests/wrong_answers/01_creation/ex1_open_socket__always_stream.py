# Mistake: picks the family from the version but always creates a stream socket, so "udp" gets TCP.
def open_socket(transport="tcp", version=4):
    """Return a new socket for transport "tcp"/"udp" and IP version 4/6; ValueError otherwise."""
    if transport not in ("tcp", "udp") or version not in (4, 6):
        raise ValueError(f"unsupported: {transport!r}, {version!r}")
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    return socket.socket(family, socket.SOCK_STREAM)
