# mistake: no cleanup on the error path: when bind() or listen() fails the socket is left open
def start_server():
    """Open a listening TCP socket on 127.0.0.1, port chosen by the OS; return (sock, port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock, sock.getsockname()[1]
