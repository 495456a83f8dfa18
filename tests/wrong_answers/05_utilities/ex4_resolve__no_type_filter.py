# Mistake: calls getaddrinfo without type=SOCK_STREAM and keeps every entry, so each address repeats per socket type.
def resolve(host, port):
    """Return the distinct (family, sockaddr) TCP addresses of host, in getaddrinfo's order."""
    return [(family, sockaddr) for family, _t, _p, _c, sockaddr in socket.getaddrinfo(host, port)]
