# Mistake: de-duplicates with sorted(set(...)), which throws away the resolver's preference order.
def resolve(host, port):
    """Return the distinct (family, sockaddr) TCP addresses of host, in getaddrinfo's order."""
    pairs = {(family, sockaddr) for family, _t, _p, _c, sockaddr
             in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    return sorted(pairs)
