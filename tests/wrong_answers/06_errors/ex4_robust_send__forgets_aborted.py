# mistake: forgets ConnectionAbortedError (what Windows raises where Linux resets), so it escapes
def robust_send(sock, data):
    """sendall(data); True if sent, False if the peer closed or reset the connection."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True
