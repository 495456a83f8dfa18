# Reads with one big recv() and treats it as the message, swallowing the next frame too.
def recv_msg(sock):
    """Receive one length-prefixed message; None on a clean EOF before it, EOFError if cut short."""
    data = sock.recv(65536)
    if not data:
        return None
    return data[4:]
