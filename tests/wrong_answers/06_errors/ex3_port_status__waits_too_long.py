# mistake: the default timeout set to a minute: an address that never answers keeps port_status waiting that long
def port_status(address):
    """Return "open", "closed" (refused) or os.strerror(code) for a connection attempt to address."""
    if isinstance(address, str):
        family = socket.AF_UNIX
    elif ":" in address[0]:
        family = socket.AF_INET6
    else:
        family = socket.AF_INET
    socket.setdefaulttimeout(60)
    with socket.socket(family, socket.SOCK_STREAM) as s:
        code = s.connect_ex(address)
    socket.setdefaulttimeout(None)
    if code == 0:
        return "open"
    if code in probes.REFUSED_ERRNOS:
        return "closed"
    return os.strerror(code)
