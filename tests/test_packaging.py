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
