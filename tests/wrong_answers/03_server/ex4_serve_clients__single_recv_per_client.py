# Loops over clients but calls recv() once per client, so a large upload is echoed only in part.
def serve_clients(listener, n):
    """Serve n echo clients in turn on `listener`, closing each connection; then return."""
    for _ in range(n):
        conn, _address = listener.accept()
        with conn:
            data = conn.recv(65536)
            conn.sendall(data)
