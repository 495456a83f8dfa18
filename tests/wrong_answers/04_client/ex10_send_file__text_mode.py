# Opens the file in text mode; sendfile() needs a binary file.
def send_file(port, path):
    """Send the file at `path` to 127.0.0.1:port with socket.sendfile, close, and return the byte count."""
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(2.0)) as sock, \
            open(path) as f:
        return sock.sendfile(f)
