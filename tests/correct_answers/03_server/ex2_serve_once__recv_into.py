# style: a reusable bytearray buffer with recv_into, echoing a memoryview slice
def serve_once(listener):
    """Accept one client on `listener`, echo all it sends until it closes, then close the connection."""
    conn, _ = listener.accept()
    buf = bytearray(4096)
    view = memoryview(buf)
    try:
        while True:
            n = conn.recv_into(buf)
            if n == 0:
                return
            conn.sendall(view[:n])
    finally:
        conn.close()
