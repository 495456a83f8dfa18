# Mistake: treats every end of stream as a clean end (returns None) even in the middle of a record.
def recv_record(sock):
    """Read one (kind, payload) record from sock; None at a clean end; EOFError mid-record."""
    def recv_exactly(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    header = recv_exactly(RECORD_HEADER.size)
    if header is None:
        return None
    kind, length = RECORD_HEADER.unpack(header)
    payload = recv_exactly(length) if length else b""
    if payload is None:
        return None
    return kind, payload
