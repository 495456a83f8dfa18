"""Grading as a user without privileges, as most instructors grade: on their own machine, as themselves.

CI runs as root, where the sandbox gives each kernel a private uid and the judge shares the grader's
user namespace. A user without privileges gets user namespaces that bubblewrap makes, the kernel's
network among them, and the judge must join the one that owns that network: it once joined the kernel's
own and was refused, and every cell of every submission was flagged and scored 0. Here the grader runs in
a user namespace where it is uid 1000 (util-linux `unshare --map-user`): the same situation, without a
second account or an interpreter that account could run.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "01_creation" / "creation.ipynb"
AS_USER = ["unshare", "--user", "--map-user=1000", "--map-group=1000"]

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="user namespaces are Linux's"),
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                       reason="not root: this whole suite grades without privileges already"),
    pytest.mark.skipif(shutil.which("unshare") is None, reason="util-linux's unshare is not installed"),
]


@pytest.fixture(scope="module")
def as_user() -> list[str]:
    """The command prefix that runs a program as uid 1000 in a user namespace (skips where none can be made)."""
    probe = subprocess.run([*AS_USER, "id", "-u"], capture_output=True, text=True, timeout=30, check=False)
    if probe.returncode or probe.stdout.strip() != "1000":
        pytest.skip(f"this machine cannot make a user namespace: {probe.stderr.strip()[:200]}")
    return AS_USER


def test_a_user_without_privileges_grades_a_class_with_the_sandbox_and_the_judge(tmp_path, as_user):
    subs = tmp_path / "subs"
    for student in ("alice", "bob"):
        (subs / student / "01_creation").mkdir(parents=True)
        shutil.copy(NOTEBOOK, subs / student / "01_creation" / NOTEBOOK.name)
    out = tmp_path / "out"
    run = subprocess.run([*as_user, sys.executable, "-m", "course_lib.cli", "grade", str(subs), "--out", str(out),
                          "-q"], capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    with open(out / "grades.csv", newline="") as f:
        rows = [(r["student"], r["score"], r["max_score"], r["status"], r["problems"]) for r in csv.DictReader(f)]
    assert rows == [("alice", "18", "18", "graded", ""), ("bob", "18", "18", "graded", "")]


@pytest.mark.timeout(600)
def test_the_hostile_corpus_holds_without_privileges(tmp_path, as_user):
    """tests/test_hostile.py, run by a grader that is uid 1000 in a user namespace: the kernels are then
    the grader's own user (no private uid), limited by rlimits where no cgroup can be made."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    run = subprocess.run([*as_user, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                          "--basetemp", str(tmp_path / "base"), str(REPO / "tests" / "test_hostile.py")],
                         capture_output=True, text=True, timeout=540, cwd=REPO, env=env, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
