"""JupyterLab for the course: a learner's lab with no dead ends, and the instructor's formgrader.

Learner mode (``socket-course lab``): nbgrader's lab plugins a learner cannot use (Assignment List and
Course List need an exchange, Formgrader and Create Assignment are the instructor's) are disabled through
JupyterLab's page config (``labconfig/page_config.json`` in the folder :data:`LEARNER_CONFIG`, put on
``JUPYTER_CONFIG_PATH``), so the menus offer nothing that loads forever or answers 404. The Validate button
stays: this module is a Jupyter server extension that answers it with the course's own self-check
(:func:`course_lib.grading.check.check`, the course's nbgrader configuration), one entry per failing
exercise in the course's clean failure text.

Instructor mode (``socket-course lab --instructor``): JupyterLab started in the nbgrader course root with
the formgrader on (Assignment List and Course List off: the course needs no exchange), so the formgrader
manages, generates and grades the course's assignments.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

LEARNER_CONFIG = Path(__file__).parent / "jupyter_learner"
#: Instructor mode: the course collects submissions with `socket-course grade`, not nbgrader's exchange,
#: so Assignment List and Course List (which need one) are off there too.
INSTRUCTOR_CONFIG = Path(__file__).parent / "jupyter_instructor"

#: nbgrader's server extensions: what each mode turns on.
NBGRADER = ("formgrader", "assignment_list", "course_list", "validate_assignment")
INSTRUCTOR_ON = ("formgrader", "validate_assignment")


def lab_argv(root: Path, port: int, instructor: bool = False) -> list:
    """The command line that starts JupyterLab on loopback for ``root``."""
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--ServerApp.root_dir={root}"]
    on = set(INSTRUCTOR_ON) if instructor else set()
    for ext in NBGRADER:
        argv += ["--ServerApp.jpserver_extensions", f"nbgrader.server_extensions.{ext}={ext in on}"]
    if not instructor:
        argv += ["--ServerApp.jpserver_extensions", "course_lib.lab=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    return argv


def lab_env(instructor: bool = False) -> dict:
    """The environment for JupyterLab: the mode's page config first on the config path, and this
    interpreter's scripts on PATH (nbgrader's gradebook runs `alembic` by name)."""
    from .grading.course import ensure_tools_on_path

    ensure_tools_on_path()
    env = dict(os.environ)
    ours = INSTRUCTOR_CONFIG if instructor else LEARNER_CONFIG
    paths = [str(ours)] + [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(paths)
    return env


_INSTRUCTOR_CONFIG = """\
# nbgrader course root written by `socket-course lab --instructor`: the course's own configuration
# ({packaged}), rooted here, with the source notebooks in ./source (yours to edit).
import os

c = get_config()  # noqa: F821
with open({packaged!r}) as f:
    exec(compile(f.read(), {packaged!r}, "exec"))
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "source"
c.Exchange.root = os.path.join(c.CourseDirectory.root, "exchange")
"""


def _exchange(root: Path) -> None:
    """nbgrader's exchange folder in the course root (the formgrader warns when it is missing)."""
    exchange = root / "exchange"
    if not exchange.is_dir():
        exchange.mkdir(parents=True)
        exchange.chmod(0o777)  # nbgrader's exchange is shared by design: it insists on these bits


def instructor_course(folder: Path | None = None) -> tuple:
    """(server root, nbgrader course root) for instructor mode.

    In a clone, the repository (server root) and its grading/ folder (course root, source ../notebooks).
    Otherwise ``folder`` (default ./course) becomes a course root of its own: a nbgrader_config.py that
    loads the packaged configuration, and the packaged source notebooks copied into source/ (never
    overwriting an edited one).
    """
    import shutil

    from .grading.course import REPO_ROOT, grading_dir, notebooks_dir

    if folder is None and grading_dir() == REPO_ROOT / "grading":
        _exchange(grading_dir())
        return REPO_ROOT, grading_dir()
    root = Path(folder or "course").resolve()
    _exchange(root)
    (root / "source").mkdir(parents=True, exist_ok=True)
    config = root / "nbgrader_config.py"
    if not config.exists():
        config.write_text(_INSTRUCTOR_CONFIG.format(packaged=str(grading_dir() / "nbgrader_config.py")))
    for nb in sorted(notebooks_dir().glob("*/*.ipynb")):
        dest = root / "source" / nb.parent.name / nb.name
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(nb, dest)
    return root, root


def validation(path: Path) -> dict:
    """The Validate button's answer for the notebook at ``path``, in the shape nbgrader's lab plugin shows.

    ``{"success": True, "value": {}}`` says "Success!"; otherwise one ``failed`` entry: the points as its
    ``source``, and as its ``error`` PASS or FAIL per exercise with each failure's clean text; edited
    test cells come as ``changed`` entries.
    """
    from .grading.check import check
    from .grading.course import CourseError

    try:
        report = check(path)
    except CourseError as exc:
        return {"success": False, "value": str(exc)}
    if report.changed:
        return {"success": True, "value": {"changed": [
            {"source": f"{gid}: this test cell was changed; grading restores the original, so undo your edit"}
            for gid in report.changed]}}
    if report.passed:
        return {"success": True, "value": {}}
    # One entry: nbgrader's plugin frames each entry as "The following cell failed:"; the course's own
    # report says PASS or FAIL per exercise, and why, in a few lines.
    lines = report.render().splitlines()[1:]
    return {"success": True, "value": {"failed": [{"source": lines[-2], "error": "\n".join(lines[:-2])}]}}


def _handlers():
    from jupyter_server.base.handlers import JupyterHandler
    from nbgrader.server_extensions.validate_assignment.handlers import NbGraderVersionHandler
    from tornado import web

    class ValidateHandler(JupyterHandler):
        """POST /assignments/validate: the course's self-check, off the server's event loop."""

        @web.authenticated
        async def post(self):
            path = self.get_argument("path", None)
            if path is None:
                path = (self.get_json_body() or {}).get("path", "")
            root = Path(self.settings["server_root_dir"]).expanduser().resolve()
            target = (root / path).resolve()
            if root not in target.parents:
                raise web.HTTPError(403, "the notebook is outside the course folder")
            result = await asyncio.get_running_loop().run_in_executor(None, validation, target)
            self.finish(json.dumps(result))

    return [(r"/assignments/validate", ValidateHandler), (r"/nbgrader_version", NbGraderVersionHandler)]


def _load_jupyter_server_extension(serverapp) -> None:
    from jupyter_server.utils import url_path_join

    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, pat), h) for pat, h in _handlers()])


def _jupyter_server_extension_points():
    return [{"module": "course_lib.lab"}]
