# Mistake: tries the constants without checking hasattr first; on a platform without them, AttributeError escapes.
def platform_support():
    """Return {name: bool} for AF_UNIX, IPv6, SOCK_SEQPACKET, SOCK_RDM, SOCK_NONBLOCK, SOCK_CLOEXEC."""
    def works(family, kind, address=None):
        try:
            with socket.socket(family, kind) as s:
                if address is not None:
                    s.bind(address)
        except OSError:
            return False
        return True

    return {
        "AF_UNIX": works(socket.AF_UNIX, socket.SOCK_STREAM),
        "IPv6": socket.has_ipv6 and works(socket.AF_INET6, socket.SOCK_STREAM, ("::1", 0)),
        "SOCK_SEQPACKET": socket.SOCK_SEQPACKET > 0,
        "SOCK_RDM": socket.SOCK_RDM > 0,
        "SOCK_NONBLOCK": works(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK),
        "SOCK_CLOEXEC": works(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC),
    }
