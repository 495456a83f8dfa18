# mistake: an off-by-one in the header check (< 3): a header cut after 3 bytes goes to struct.unpack
def recv_msg(sock):
    """Receive one length-prefixed message; None on a clean EOF before it, EOFError if cut short."""
    def recv_exactly(n):
        data = bytearray()
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                break
            data += chunk
        return bytes(data)

    header = recv_exactly(4)
    if not header:
        return None
    if len(header) < 3:
        raise EOFError("connection closed inside a header")
    (length,) = struct.unpack("!I", header)
    payload = recv_exactly(length)
    if len(payload) < length:
        raise EOFError("connection closed inside a payload")
    return payload
