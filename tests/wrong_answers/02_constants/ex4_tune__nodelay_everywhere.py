# Mistake: sets TCP_NODELAY on every socket; on UDP or AF_UNIX sockets it does not apply and raises OSError.
def tune(sock, rcvbuf):
    """Set SO_REUSEADDR, SO_RCVBUF (and TCP_NODELAY on TCP); return the values read back."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return {
        "reuseaddr": bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)),
        "nodelay": bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)),
        "rcvbuf": sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
    }
