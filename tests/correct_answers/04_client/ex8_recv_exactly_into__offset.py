# style: recv_into with an explicit nbytes and offset arithmetic on a memoryview
def recv_exactly_into(sock, buf):
    """Fill the writable buffer `buf` completely from `sock` with recv_into; EOFError if the peer closes."""
    mv = memoryview(buf).cast("B")
    total = mv.nbytes
    got = 0
    while got != total:
        n = sock.recv_into(mv[got:], total - got)
        if not n:
            raise EOFError(f"got {got} of {total}")
        got += n
