# style: bytes %-formatting and a walrus loop
def serve_timestamp(listener):
    """Accept one client; answer each chunk received with b'[' + ctime + b'] ' + chunk until it closes."""
    conn, _ = listener.accept()
    with conn:
        while (data := conn.recv(4096)):
            conn.sendall(b"[%s] %s" % (time.ctime().encode("ascii"), data))
