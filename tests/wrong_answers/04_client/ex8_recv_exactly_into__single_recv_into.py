# Calls recv_into() once, assuming it fills the whole buffer.
def recv_exactly_into(sock, buf):
    """Fill the writable buffer `buf` completely from `sock` with recv_into; EOFError if the peer closes."""
    if len(buf):
        sock.recv_into(buf)
