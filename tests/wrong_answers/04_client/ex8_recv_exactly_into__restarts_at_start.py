# Loops, but every recv_into() writes at the start of the buffer, overwriting what was already received.
def recv_exactly_into(sock, buf):
    """Fill the writable buffer `buf` completely from `sock` with recv_into; EOFError if the peer closes."""
    view = memoryview(buf)
    filled = 0
    while filled < len(view):
        n = sock.recv_into(view, len(view) - filled)
        if n == 0:
            raise EOFError("connection closed early")
        filled += n
