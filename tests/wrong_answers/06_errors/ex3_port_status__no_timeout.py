# mistake: no timeout before connect_ex: an address that never answers keeps it waiting for minutes
def port_status(address):
    """Return "open", "closed" (refused) or os.strerror(code) for a connection attempt to address."""
    if isinstance(address, str):
        family = socket.AF_UNIX
    elif ":" in address[0]:
        family = socket.AF_INET6
    else:
        family = socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        code = s.connect_ex(address)
    if code == 0:
        return "open"
    if code == errno.ECONNREFUSED:
        return "closed"
    return os.strerror(code)
