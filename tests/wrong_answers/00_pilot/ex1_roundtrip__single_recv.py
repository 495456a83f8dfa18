# Mistake: one recv() call, as if one recv were one message (a 1 MiB payload arrives in pieces).
def roundtrip(data: bytes) -> bytes:
    """Send data over a socketpair and return what arrives."""
    a, b = socket.socketpair()
    with a, b:
        def send():
            a.sendall(data)
            a.shutdown(socket.SHUT_WR)
        sender = threading.Thread(target=send)
        sender.start()
        first = b.recv(65536)
        while b.recv(65536):
            pass  # drain so the sender can finish; only the first piece is kept
        sender.join()
        return first
