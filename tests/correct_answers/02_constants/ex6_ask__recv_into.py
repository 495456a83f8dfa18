# style: recv_into a bytearray that grows, returned as bytes
def ask(sock, request):
    """Send request, half-close with SHUT_WR, return the whole reply (read until EOF)."""
    sock.sendall(request)
    sock.shutdown(socket.SHUT_WR)
    reply = bytearray()
    buf = bytearray(16384)
    while True:
        n = sock.recv_into(buf)
        if n == 0:
            return bytes(reply)
        reply += buf[:n]
