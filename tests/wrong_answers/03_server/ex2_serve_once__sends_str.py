# Decodes what it received and sends the str back: sockets carry bytes, so sendall() raises TypeError.
def serve_once(listener):
    """Accept one client on `listener`, echo all it sends until it closes, then close the connection."""
    conn, _address = listener.accept()
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data.decode())
