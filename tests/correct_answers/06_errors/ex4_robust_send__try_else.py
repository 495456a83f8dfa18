# style: try/except/else, each peer-gone class in its own clause
def robust_send(sock, data):
    """sendall(data); True if sent, False if the peer closed or reset the connection."""
    try:
        sock.sendall(data)
    except BrokenPipeError:
        return False
    except ConnectionResetError:
        return False
    except ConnectionAbortedError:
        return False
    else:
        return True
