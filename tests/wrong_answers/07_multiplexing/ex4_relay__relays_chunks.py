# No framing: relays whatever each recv() returned, so an unfinished line reaches the others.
def relay(listener, n):
    """Accept n clients, then relay each complete line to every other client; return when all left."""
    clients = [listener.accept()[0] for _ in range(n)]
    sel = selectors.DefaultSelector()
    for conn in clients:
        sel.register(conn, selectors.EVENT_READ)
    try:
        while clients:
            for key, _ in sel.select():
                conn = key.fileobj
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(conn)
                    conn.close()
                    clients.remove(conn)
                    continue
                for other in list(clients):
                    if other is not conn:
                        try:
                            other.sendall(data)
                        except OSError:
                            pass
    finally:
        sel.close()
