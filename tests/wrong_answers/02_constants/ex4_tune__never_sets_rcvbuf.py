# mistake: reads SO_RCVBUF back but never sets it (the report is honest, the buffer is untouched)
def tune(sock, rcvbuf):
    """Set SO_REUSEADDR, SO_RCVBUF (and TCP_NODELAY on TCP); return the values read back."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    is_tcp = sock.type == socket.SOCK_STREAM and sock.family in (socket.AF_INET, socket.AF_INET6)
    if is_tcp:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return {
        "reuseaddr": bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)),
        "nodelay": bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)) if is_tcp else None,
        "rcvbuf": sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
    }
