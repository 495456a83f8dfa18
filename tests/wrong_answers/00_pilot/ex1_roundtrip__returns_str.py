# Mistake: decodes the bytes and returns str; sockets carry bytes.
def roundtrip(data: bytes) -> bytes:
    """Send data over a socketpair and return what arrives."""
    a, b = socket.socketpair()
    with a, b:
        def send():
            a.sendall(data)
            a.shutdown(socket.SHUT_WR)
        sender = threading.Thread(target=send)
        sender.start()
        chunks = []
        while chunk := b.recv(65536):
            chunks.append(chunk)
        sender.join()
        return b"".join(chunks).decode("latin-1")
