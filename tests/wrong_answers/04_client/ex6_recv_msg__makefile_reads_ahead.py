# mistake: a new buffered makefile per call reads past the message; the next call loses those bytes
def recv_msg(sock):
    """Receive one length-prefixed message; None on a clean EOF before it, EOFError if cut short."""
    with sock.makefile("rb") as f:
        header = f.read(4)
        if header == b"":
            return None
        if len(header) != 4:
            raise EOFError("EOF inside the header")
        length = int.from_bytes(header, "big")
        payload = f.read(length)
        if len(payload) != length:
            raise EOFError("EOF inside the payload")
        return payload
