# Mistake: one recv() for the header and one for the payload, as if each recv returned a whole message.
def recv_record(sock):
    """Read one (kind, payload) record from sock; None at a clean end; EOFError mid-record."""
    header = sock.recv(RECORD_HEADER.size)
    if not header:
        return None
    kind, length = RECORD_HEADER.unpack(header)
    payload = sock.recv(length) if length else b""
    return kind, payload
