# style: recv_into a preallocated bytearray through a memoryview; int.from_bytes for the header
def recv_msg(sock):
    """Receive one length-prefixed message; None on a clean EOF before it, EOFError if cut short."""
    def fill(n):
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = sock.recv_into(view[got:], n - got)
            if k == 0:
                break
            got += k
        return bytes(buf[:got])

    header = fill(4)
    if len(header) == 0:
        return None
    if len(header) < 4:
        raise EOFError("EOF inside the header")
    length = int.from_bytes(header, "big")
    payload = fill(length)
    if len(payload) < length:
        raise EOFError("EOF inside the payload")
    return payload
