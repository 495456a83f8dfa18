# Mistake: returns only the IP strings, losing the family and the full (IPv6 4-tuple) sockaddr.
def resolve(host, port):
    """Return the distinct (family, sockaddr) TCP addresses of host, in getaddrinfo's order."""
    result = []
    for _f, _t, _p, _c, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if sockaddr[0] not in result:
            result.append(sockaddr[0])
    return result
