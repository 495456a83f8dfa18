# Returns quietly when recv_into() returns 0: a peer that closes early leaves the buffer half filled, unnoticed.
def recv_exactly_into(sock, buf):
    """Fill the writable buffer `buf` completely from `sock` with recv_into; EOFError if the peer closes."""
    view = memoryview(buf)
    filled = 0
    while filled < len(view):
        n = sock.recv_into(view[filled:])
        if n == 0:
            return
        filled += n
