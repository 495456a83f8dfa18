# Mistake: loops until it has n bytes but never checks for recv() returning b'', so a closed peer makes it spin.
def recv_record(sock):
    """Read one (kind, payload) record from sock; None at a clean end; EOFError mid-record."""
    def recv_exactly(n):
        buf = b""
        while len(buf) < n:
            buf += sock.recv(n - len(buf))
        return buf

    kind, length = RECORD_HEADER.unpack(recv_exactly(RECORD_HEADER.size))
    return kind, recv_exactly(length)
