# style: if/elif chains and a default-argument check instead of lookup tables
def open_socket(transport="tcp", version=4):
    """Return a new socket for transport "tcp"/"udp" and IP version 4/6; ValueError otherwise."""
    if transport == "tcp":
        kind = socket.SOCK_STREAM
    elif transport == "udp":
        kind = socket.SOCK_DGRAM
    else:
        raise ValueError("bad transport")
    if version == 4:
        family = socket.AF_INET
    elif version == 6:
        family = socket.AF_INET6
    else:
        raise ValueError("bad version")
    return socket.socket(family, kind)
