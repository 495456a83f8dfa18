# Fixes the bytes but keeps send(), which may send only part of the reply.
def serve_timestamp(listener):
    """Accept one client; answer each chunk received with b'[' + ctime + b'] ' + chunk until it closes."""
    conn, _address = listener.accept()
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.send(b"[" + time.ctime().encode() + b"] " + data)
