"""The project installs, and its source notebooks (solutions and hidden tests included) run, under every
Python it claims to support.

The supported minor versions are the classifiers in pyproject.toml (tests/test_packaging.py keeps them in
step with requires-python and the docs). For each one this test makes a fresh environment with that
interpreter (uv, or venv + pip where uv is missing), installs the project there with its own dependency
bounds, and runs every notebook under notebooks/ with tests/run_notebooks.py. The interpreter running the
suite is covered by the suite itself (nbval and the honesty harness), so it is skipped here; so is a
version not installed on this machine (looked for in $PYENV_ROOT/versions, then on PATH), with a message.
Deselect with `-m "not pythons"`.

The versions' installs and notebook runs are mostly waiting (on the package cache, on kernels starting,
on the notebooks' own timeouts), so they all start at once, each in a background process (this file run
as a script), and each version's test collects its own.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(str(p) for p in (ROOT / "notebooks").glob("*/*.ipynb"))
PYENV = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"


def supported_pythons() -> list[str]:
    """The minor versions pyproject.toml's classifiers claim, e.g. ["3.10", "3.11", ...]."""
    text = (ROOT / "pyproject.toml").read_text()
    return re.findall(r'"Programming Language :: Python :: (3\.\d+)"', text)


def interpreter(minor: str) -> str | None:
    """The newest CPython `minor` (e.g. "3.12") on this machine, or None."""
    found = []
    for path in PYENV.glob(f"{minor}.*"):
        m = re.fullmatch(rf"{re.escape(minor)}\.(\d+)", path.name)
        if m and (path / "bin" / "python").exists():
            found.append((int(m[1]), str(path / "bin" / "python")))
    if found:
        return max(found)[1]
    return shutil.which(f"python{minor}")


def clean_env() -> dict[str, str]:
    """This process's environment without what ties a child to the suite's own virtualenv."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "__PYVENV_LAUNCHER__"}}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def install(python: str, venv: Path, env: dict[str, str]) -> Path:
    """A fresh environment for `python` with the project installed; returns its interpreter."""
    try:
        import uv
        uv_bin = uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        uv_bin = None
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    target = bindir / ("python.exe" if os.name == "nt" else "python")
    if uv_bin:
        steps = [[uv_bin, "venv", "--quiet", "--python", python, str(venv)],
                 [uv_bin, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(target), "-e", str(ROOT)]]
    else:  # pragma: no cover - uv is in the test extras
        steps = [[python, "-m", "venv", str(venv)],
                 [str(target), "-m", "pip", "install", "--quiet", "-e", str(ROOT)]]
    for step in steps:
        done = subprocess.run(step, check=False, env=env, capture_output=True, text=True, timeout=400)
        assert done.returncode == 0, (
            f"installing the project under {python} failed:\n$ {' '.join(step)}\n{done.stdout}{done.stderr}")
    return target


def install_and_run(python: str, work: Path) -> int:
    """One version's whole job (run in a background process): install, run every notebook, report.

    The first line printed is the timing; then run_notebooks.py's lines. Exit status 0 when all ran.
    """
    env = clean_env()
    start = time.monotonic()
    try:
        target = install(python, work / "venv", env)
    except AssertionError as exc:
        print(f"{python}: install failed\n{exc}", flush=True)
        return 1
    installed = time.monotonic() - start
    done = subprocess.run([str(target), str(ROOT / "tests" / "run_notebooks.py"), *NOTEBOOKS], check=False,
                          cwd=work, env=env, capture_output=True, text=True, timeout=500)
    print(f"({python}): installed in {installed:.1f}s, {len(NOTEBOOKS)} notebooks "
          f"run in {time.monotonic() - start - installed:.1f}s\n{done.stdout}{done.stderr[-3000:]}", flush=True)
    hint = subprocess.run([str(target), "-c", UNTOUCHED], check=False, cwd=work, env=env, capture_output=True,
                          text=True, timeout=120)
    print(hint.stdout + hint.stderr[-3000:], flush=True)
    return done.returncode or hint.returncode


#: the judge's review hint (course_lib/judge/agent.py: changed_code) finds nothing changed in an interpreter
#: where nothing was: each Python's standard library builds some of its classes its own way (3.10's
#: ssl.Purpose names a module that does not exist), and none of that may flag a submission
UNTOUCHED = """
import importlib, pkgutil, ssl, selectors, course_lib
for found in pkgutil.walk_packages(course_lib.__path__, "course_lib."):
    if not found.name.endswith(".__main__"):
        importlib.import_module(found.name)
from course_lib.judge.agent import changed_code
changed = changed_code()
print("the judge's review hint, nothing changed:", changed or "nothing found")
raise SystemExit(1 if changed else 0)
"""


def this_python() -> str:
    return "{}.{}".format(*sys.version_info[:2])


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """Every other supported Python's install-and-run, started at once in the background."""
    jobs = {}
    for minor in supported_pythons():
        python = interpreter(minor)
        if minor == this_python() or python is None:
            continue
        work = tmp_path_factory.mktemp(f"python{minor}")
        out = open(work / "report.txt", "w+")  # noqa: SIM115 - read by the version's test, closed below
        proc = subprocess.Popen([sys.executable, __file__, python, str(work)], stdout=out,
                                stderr=subprocess.STDOUT, cwd=work, start_new_session=True)
        jobs[minor] = (proc, out, time.monotonic())
    yield jobs
    for proc, out, _ in jobs.values():
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
        out.close()


@pytest.mark.pythons
@pytest.mark.parametrize("minor", supported_pythons())
def test_notebooks_run_under(minor, started, record_property):
    if minor == this_python():
        pytest.skip(f"Python {minor} runs this suite: nbval and the honesty harness cover it")
    if minor not in started:
        pytest.skip(f"Python {minor} is not installed here (looked in {PYENV}/{minor}.* and on PATH)")
    proc, out, since = started[minor]
    status = proc.wait(timeout=900)
    out.seek(0)
    report = out.read()
    timing = f"Python {minor} {report.splitlines()[0] if report else ''} (all versions at once)"
    record_property("python_timing", timing)  # printed at the end of the run (tests/conftest.py)
    print(report)
    assert status == 0, f"notebooks failed under Python {minor}:\n{report[-6000:]}"


if __name__ == "__main__":
    sys.exit(install_and_run(sys.argv[1], Path(sys.argv[2])))
