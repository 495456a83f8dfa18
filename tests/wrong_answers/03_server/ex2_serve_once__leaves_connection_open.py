# Echoes correctly but never closes the connection socket it got from accept().
def serve_once(listener):
    """Accept one client on `listener`, echo all it sends until it closes, then close the connection."""
    conn, _address = listener.accept()
    while True:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)
