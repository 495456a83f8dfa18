# Mistake: sets the new default but never puts the old one back.
@contextlib.contextmanager
def default_timeout(seconds):
    """Set socket's default timeout to `seconds` inside the block; yield the old one; restore it."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    yield previous
