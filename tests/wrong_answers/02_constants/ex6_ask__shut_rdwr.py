# Mistake: shuts down both directions (SHUT_RDWR), so the socket can no longer receive the reply.
def ask(sock, request):
    """Send request, half-close with SHUT_WR, return the whole reply (read until EOF)."""
    sock.sendall(request)
    sock.shutdown(socket.SHUT_RDWR)
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
