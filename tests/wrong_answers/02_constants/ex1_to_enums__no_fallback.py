# Mistake: converts without a fallback, so an unknown number raises ValueError instead of staying an int.
def to_enums(family, kind):
    """Return (AddressFamily member or int, SocketKind member or int) for two numbers."""
    return socket.AddressFamily(family), socket.SocketKind(kind)
