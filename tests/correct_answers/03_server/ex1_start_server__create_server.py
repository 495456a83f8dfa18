# style: socket.create_server does bind and listen (and closes the socket if they fail)
def start_server():
    """Open a listening TCP socket on 127.0.0.1, port chosen by the OS; return (sock, port)."""
    sock = socket.create_server(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]
