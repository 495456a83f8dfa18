# Mistake: never signals the end of the request, so the server keeps waiting and no reply comes.
def ask(sock, request):
    """Send request, half-close with SHUT_WR, return the whole reply (read until EOF)."""
    sock.sendall(request)
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
