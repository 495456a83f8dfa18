# style: contextlib.closing around a plain socket, file opened first
def send_file(port, path):
    """Send the file at `path` to 127.0.0.1:port with socket.sendfile, close, and return the byte count."""
    import contextlib
    with open(path, "rb") as f:
        with contextlib.closing(socket.socket()) as s:
            s.settimeout(5)
            s.connect(("127.0.0.1", port))
            sent = s.sendfile(f)
    return sent
