# Never closes the selector (no finally: sel.close()).
def relay(listener, n):
    """Accept n clients, then relay each complete line to every other client; return when all left."""
    buffers = {}
    for _ in range(n):
        conn, _ = listener.accept()
        buffers[conn] = bytearray()
    sel = selectors.DefaultSelector()
    for conn in buffers:
        sel.register(conn, selectors.EVENT_READ)

    def leave(conn):
        sel.unregister(conn)
        conn.close()
        del buffers[conn]

    try:
        while buffers:
            for key, _ in sel.select():
                conn = key.fileobj
                if conn not in buffers:
                    continue
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    leave(conn)
                    continue
                buf = buffers[conn]
                buf += data
                while (end := buf.find(b"\n")) >= 0:
                    line = bytes(buf[:end + 1])
                    del buf[:end + 1]
                    for other in list(buffers):
                        if other is not conn:
                            try:
                                other.sendall(line)
                            except OSError:
                                leave(other)
    finally:
        pass
