# Calls recv() once and treats it as the whole message: one recv is not one message.
def serve_once(listener):
    """Accept one client on `listener`, echo all it sends until it closes, then close the connection."""
    conn, _address = listener.accept()
    with conn:
        data = conn.recv(65536)
        conn.sendall(data)
