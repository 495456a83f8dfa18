"""Helpers for section 03 (server methods).

Why this module is (nearly) empty: it used to hold ``check_large_upload``,
which ran a 256 KiB upload on its own so that a serving loop calling
``recv`` once per connection was reported as such.  The shared checks now
say so themselves (``check_sequential_server`` and
``check_concurrent_server`` report "echoed N of M bytes", and the latter's
edge cases include the 256 KiB upload), so the notebook calls them
directly.  Section-03-only helpers belong here.
"""

from __future__ import annotations

__all__: list = []
