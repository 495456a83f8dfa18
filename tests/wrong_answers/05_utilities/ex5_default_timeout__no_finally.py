# Mistake: restores the old default after the yield without try/finally, so an exception skips it.
@contextlib.contextmanager
def default_timeout(seconds):
    """Set socket's default timeout to `seconds` inside the block; yield the old one; restore it."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    yield previous
    socket.setdefaulttimeout(previous)
