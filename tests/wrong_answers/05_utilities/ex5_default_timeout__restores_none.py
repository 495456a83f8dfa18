# Mistake: "restores" by setting the default to None, which is wrong whenever a default was already set (nesting).
@contextlib.contextmanager
def default_timeout(seconds):
    """Set socket's default timeout to `seconds` inside the block; yield the old one; restore it."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield previous
    finally:
        socket.setdefaulttimeout(None)
