# Mistake: uses Enum[...] (lookup by name) with a number, instead of Enum(...) (lookup by value).
def to_enums(family, kind):
    """Return (AddressFamily member or int, SocketKind member or int) for two numbers."""
    try:
        fam = socket.AddressFamily[family]
    except KeyError:
        fam = family
    try:
        knd = socket.SocketKind[kind]
    except KeyError:
        knd = kind
    return fam, knd
