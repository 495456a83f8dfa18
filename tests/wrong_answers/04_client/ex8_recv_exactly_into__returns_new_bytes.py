# Uses recv() and returns new bytes instead of filling the caller's buffer.
def recv_exactly_into(sock, buf):
    """Fill the writable buffer `buf` completely from `sock` with recv_into; EOFError if the peer closes."""
    return sock.recv(len(buf))
