"""`socket-course lab` (what `make lab` runs) serves the course on loopback, with a token."""
from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

# Reads the server's output with selectors on a pipe and stops it with killpg: both POSIX only.
pytestmark = pytest.mark.skipif(os.name != "posix", reason="selectors on pipes and killpg are POSIX only")

PILOT = Path(__file__).parent / "fixtures" / "pilot_course"
URL = re.compile(r"(http://127\.0\.0\.1:\d+)/lab\?token=([0-9a-f]+)")


def test_lab_serves_the_course_on_loopback(tmp_path):
    env = dict(os.environ, SOCKET_COURSE_NOTEBOOKS=str(PILOT), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    proc = subprocess.Popen([sys.executable, "-m", "course_lib.cli", "lab", "--dir", str(tmp_path / "student"),
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, start_new_session=True)
    seen = []
    try:
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 120
        match = None
        while match is None and time.monotonic() < deadline:
            if not sel.select(timeout=deadline - time.monotonic()):
                break
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            match = URL.search(line)
        assert match, "no URL with a token printed:\n" + "".join(seen[-20:])
        base, token = match.groups()
        # Jupyter prints its URL a moment before it accepts connections: retry until the deadline,
        # waiting on the server's own output between tries.
        while True:
            try:
                with urllib.request.urlopen(f"{base}/lab?token={token}", timeout=30) as resp:
                    assert resp.status == 200
                break
            except urllib.error.URLError as exc:
                if not isinstance(exc.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                    raise
                if sel.select(timeout=0.2):
                    seen.append(proc.stdout.readline())
        sel.close()
        with urllib.request.urlopen(f"{base}/api/contents/00_pilot?token={token}", timeout=30) as resp:
            names = [item["name"] for item in json.load(resp)["content"]]
        assert names == ["pilot.ipynb"]
        assert not any("[E " in line for line in seen), "".join(line for line in seen if "[E " in line)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
