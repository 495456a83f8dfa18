# Mistake: catches every OSError, so a real bug (sending on a closed socket, EBADF) is reported as "peer gone".
def robust_send(sock, data):
    """sendall(data); True if sent, False if the peer closed or reset the connection."""
    try:
        sock.sendall(data)
    except OSError:
        return False
    return True
