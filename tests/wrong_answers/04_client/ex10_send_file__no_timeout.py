# mistake: no timeout on the connection: a server that stops reading would block sendfile for ever
def send_file(port, path):
    """Send the file at `path` to 127.0.0.1:port with socket.sendfile, close, and return the byte count."""
    with socket.create_connection(("127.0.0.1", port)) as sock, open(path, "rb") as f:
        return sock.sendfile(f)
