# Decodes each datagram and sends the str back: sendto() needs bytes, so it raises TypeError.
def serve_udp(sock, count):
    """Echo exactly `count` datagrams received on the bound UDP socket `sock` back to their senders."""
    for _ in range(count):
        data, address = sock.recvfrom(65535)
        sock.sendto(data.decode(), address)
