# style: a non-blocking connect_ex, then select() waits a second for the outcome (read with SO_ERROR)
def probe(port):
    """True if something accepts TCP connections on 127.0.0.1:port, False if the connection is refused."""
    import select
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        code = sock.connect_ex(("127.0.0.1", port))
        if code in probes.WOULDBLOCK_ERRNOS | {errno.EINPROGRESS}:
            if not select.select([], [sock], [], 1.0)[1]:
                raise TimeoutError(errno.ETIMEDOUT, os.strerror(errno.ETIMEDOUT))
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if code == 0:
        return True
    if code in probes.REFUSED_ERRNOS:
        return False
    raise OSError(code, os.strerror(code))
