# Mistake: unpacks the header in little-endian order ("<HI") instead of network order ("!HI").
def recv_record(sock):
    """Read one (kind, payload) record from sock; None at a clean end; EOFError mid-record."""
    def recv_exactly(n, may_end):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                if may_end and not buf:
                    return None
                raise EOFError("connection closed in the middle of a record")
            buf += chunk
        return buf

    header = recv_exactly(6, True)
    if header is None:
        return None
    kind, length = struct.unpack("<HI", header)
    return kind, recv_exactly(length, False) if length else b""
