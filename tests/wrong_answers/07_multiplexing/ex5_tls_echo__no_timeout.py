# Connects without a timeout: a server that accepts and never answers would hang the client for ever.
def tls_echo(port, server_name, cafile, message):
    """Echo `message` through a verified TLS connection to 127.0.0.1:port; return the echo."""
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            tls.sendall(message)
            reply = bytearray()
            while len(reply) < len(message):
                chunk = tls.recv(len(message) - len(reply))
                if not chunk:
                    raise EOFError("the server closed before the whole echo arrived")
                reply += chunk
    return bytes(reply)
