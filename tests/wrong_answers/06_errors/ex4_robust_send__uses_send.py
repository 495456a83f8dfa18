# mistake: send() instead of sendall(): True although only part of the data was sent
def robust_send(sock, data):
    """sendall(data); True if sent, False if the peer closed or reset the connection."""
    try:
        sock.send(data)
    except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
        return False
    return True
