# Serves the first client and returns: the loop around accept() is missing.
def serve_clients(listener, n):
    """Serve n echo clients in turn on `listener`, closing each connection; then return."""
    conn, _address = listener.accept()
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
