# mistake: send() instead of sendall(): part of a large request is never sent
def ask(sock, request):
    """Send request, half-close with SHUT_WR, return the whole reply (read until EOF)."""
    sock.send(request)
    sock.shutdown(socket.SHUT_WR)
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
