# Keeps the seed's BUFSIZE = 1024, so a 4 KiB message is answered as four separate messages.
def serve_timestamp(listener):
    """Accept one client; answer each chunk received with b'[' + ctime + b'] ' + chunk until it closes."""
    BUFSIZE = 1024
    conn, _address = listener.accept()
    with conn:
        while True:
            data = conn.recv(BUFSIZE)
            if not data:
                break
            conn.sendall(b"[" + time.ctime().encode() + b"] " + data)
