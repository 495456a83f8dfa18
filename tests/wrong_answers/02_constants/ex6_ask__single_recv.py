# Mistake: one recv() call, as if the whole reply always arrived at once.
def ask(sock, request):
    """Send request, half-close with SHUT_WR, return the whole reply (read until EOF)."""
    sock.sendall(request)
    sock.shutdown(socket.SHUT_WR)
    return sock.recv(65536)
