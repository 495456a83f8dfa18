# mistake: asks recv for the whole field size each time (recv(n)), not for what is missing, so it can read into the next record
def recv_record(sock):
    """Read one (kind, payload) record from sock; None at a clean end; EOFError mid-record."""
    def recv_exactly(n, may_end):
        buf = bytearray()
        while len(buf) < n:
            chunk = sock.recv(n)
            if not chunk:
                if may_end and not buf:
                    return None
                raise EOFError(f"connection closed after {len(buf)} of {n} bytes")
            buf += chunk
        return bytes(buf)

    header = recv_exactly(RECORD_HEADER.size, may_end=True)
    if header is None:
        return None
    kind, length = RECORD_HEADER.unpack(header)
    payload = recv_exactly(length, may_end=False) if length else b""
    return kind, payload
