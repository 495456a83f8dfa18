# mistake: EOF right after a complete header returns None (a clean end) although the payload is missing
def recv_record(sock):
    """Read one (kind, payload) record from sock; None at a clean end; EOFError mid-record."""
    def recv_exactly(n):
        buf = bytearray()
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                if not buf:
                    return None
                raise EOFError(f"connection closed after {len(buf)} of {n} bytes")
            buf += chunk
        return bytes(buf)

    header = recv_exactly(RECORD_HEADER.size)
    if header is None:
        return None
    kind, length = RECORD_HEADER.unpack(header)
    payload = recv_exactly(length) if length else b""
    if payload is None:
        return None
    return kind, payload
