# Mistake: catches only BrokenPipeError; a peer that resets the connection raises ConnectionResetError instead.
def robust_send(sock, data):
    """sendall(data); True if sent, False if the peer closed or reset the connection."""
    try:
        sock.sendall(data)
    except BrokenPipeError:
        return False
    return True
