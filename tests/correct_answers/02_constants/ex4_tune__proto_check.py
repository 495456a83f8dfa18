# style: TCP detected by family and type in a tuple, results gathered after all setsockopt calls
def tune(sock, rcvbuf):
    """Set SO_REUSEADDR, SO_RCVBUF (and TCP_NODELAY on TCP); return the values read back."""
    tcp = sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, True)
    if tcp:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
    nodelay = None
    if tcp:
        nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    return {"reuseaddr": sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0,
            "nodelay": nodelay,
            "rcvbuf": sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)}
