# Mistake: ignores the version argument: every socket is IPv4, and version=5 is silently accepted.
def open_socket(transport="tcp", version=4):
    """Return a new socket for transport "tcp"/"udp" and IP version 4/6; ValueError otherwise."""
    if transport == "tcp":
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if transport == "udp":
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    raise ValueError(f"unknown transport {transport!r}")
