# Remembers the first client's address and sends every reply there, as if UDP had connections.
def serve_udp(sock, count):
    """Echo exactly `count` datagrams received on the bound UDP socket `sock` back to their senders."""
    client = None
    for _ in range(count):
        data, address = sock.recvfrom(65535)
        if client is None:
            client = address
        sock.sendto(data, client)
