# Reads the echo with one recv(): TLS is still a byte stream, and a reply in several records is cut short.
def tls_echo(port, server_name, cafile, message):
    """Echo `message` through a verified TLS connection to 127.0.0.1:port; return the echo."""
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(2.0)) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            tls.sendall(message)
            return tls.recv(65536)
