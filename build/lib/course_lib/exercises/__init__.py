"""Section-specific helpers: one module per section notebook (``utilities``, ``errors``, ...).

Each module is owned by its section and builds on the shared harness (timing, probes, resources,
transcript, peers, runners, checks).
"""
