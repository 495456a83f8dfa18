# style: a buffered reader would read past the record, so: recv_into a bytearray per field
def recv_record(sock):
    """Read one (kind, payload) record from sock; None at a clean end; EOFError mid-record."""
    def read(n):
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = sock.recv_into(view[got:])
            if k == 0:
                return bytes(buf[:got])
            got += k
        return bytes(buf)

    header = read(RECORD_HEADER.size)
    if not header:
        return None
    if len(header) < RECORD_HEADER.size:
        raise EOFError("closed inside a header")
    kind, length = RECORD_HEADER.unpack(header)
    payload = read(length)
    if len(payload) < length:
        raise EOFError("closed inside a payload")
    return kind, payload
