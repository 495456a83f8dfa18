# style: socket.fromfd on the original's descriptor (fromfd duplicates it), then set_inheritable
def inheritable_copy(sock):
    """Return a duplicate of sock on its own, inheritable descriptor; sock is left unchanged."""
    copy = socket.fromfd(sock.fileno(), sock.family, sock.type, sock.proto)
    copy.settimeout(sock.gettimeout())
    copy.set_inheritable(True)
    return copy
