# Half-fixed seed code: formats bytes into a str with %s and encodes it, so the reply contains b'...'.
def serve_timestamp(listener):
    """Accept one client; answer each chunk received with b'[' + ctime + b'] ' + chunk until it closes."""
    conn, _address = listener.accept()
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            reply = "[%s] %s" % (bytes(time.ctime(), "utf-8"), data)
            conn.sendall(reply.encode())
