# style: a class with __enter__/__exit__ instead of a generator
class default_timeout:
    """Set socket's default timeout to `seconds` inside the block; yield the old one; restore it."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __enter__(self):
        self.previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(self.seconds)
        return self.previous

    def __exit__(self, *exc_info):
        socket.setdefaulttimeout(self.previous)
        return False
