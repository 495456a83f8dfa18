# Mistake: calls sendall without handling a peer that went away, so the error crashes the caller.
def robust_send(sock, data):
    """sendall(data); True if sent, False if the peer closed or reset the connection."""
    sock.sendall(data)
    return True
