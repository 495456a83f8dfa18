# Mistake: uses connect() instead of connect_ex(), so a refused connection raises instead of returning "closed".
def port_status(address):
    """Return "open", "closed" (refused) or os.strerror(code) for a connection attempt to address."""
    if isinstance(address, str):
        family = socket.AF_UNIX
    elif ":" in address[0]:
        family = socket.AF_INET6
    else:
        family = socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        s.connect(address)
    return "open"
