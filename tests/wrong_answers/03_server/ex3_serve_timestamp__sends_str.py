# Sends a str, as the Python 2 era seed code does: TypeError on Python 3.
def serve_timestamp(listener):
    """Accept one client; answer each chunk received with b'[' + ctime + b'] ' + chunk until it closes."""
    conn, _address = listener.accept()
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.send("[%s] %s" % (time.ctime(), data.decode()))
