# style: one try/finally per probe, no helper function
def platform_support():
    """Return {name: bool} for AF_UNIX, IPv6, SOCK_SEQPACKET, SOCK_RDM, SOCK_NONBLOCK, SOCK_CLOEXEC."""
    result = {}
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.close()
        result["AF_UNIX"] = True
    except (AttributeError, OSError):
        result["AF_UNIX"] = False
    result["IPv6"] = False
    if socket.has_ipv6:
        try:
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            try:
                s.bind(("::1", 0))
                result["IPv6"] = True
            finally:
                s.close()
        except OSError:
            pass
    result["SOCK_SEQPACKET"] = hasattr(socket, "SOCK_SEQPACKET")
    result["SOCK_RDM"] = hasattr(socket, "SOCK_RDM")
    for flag in ("SOCK_NONBLOCK", "SOCK_CLOEXEC"):
        result[flag] = False
        if hasattr(socket, flag):
            try:
                socket.socket(socket.AF_INET, socket.SOCK_STREAM | getattr(socket, flag)).close()
                result[flag] = True
            except OSError:
                pass
    return result
