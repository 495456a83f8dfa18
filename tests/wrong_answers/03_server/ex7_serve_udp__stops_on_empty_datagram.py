# Treats an empty datagram as end of stream (a TCP habit) and stops early.
def serve_udp(sock, count):
    """Echo exactly `count` datagrams received on the bound UDP socket `sock` back to their senders."""
    for _ in range(count):
        data, address = sock.recvfrom(65535)
        if not data:
            break
        sock.sendto(data, address)
