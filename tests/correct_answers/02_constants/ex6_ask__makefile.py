# style: sendall, shutdown, then read the reply with makefile("rb").read()
def ask(sock, request):
    """Send request, half-close with SHUT_WR, return the whole reply (read until EOF)."""
    sock.sendall(request)
    sock.shutdown(socket.SHUT_WR)
    with sock.makefile("rb") as f:
        return f.read()
