"""Student versions of the notebooks, made by nbgrader's generate_assignment."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .course import Assignment, assignments, checked, make_api


def generate(api, assignment: Assignment) -> Path:
    """Run generate_assignment for one assignment in `api`'s course; return its release folder."""
    checked(api.generate_assignment(assignment.name), f"generating the student version of {assignment.name}")
    return Path(api.coursedir.format_path(api.coursedir.release_directory, ".", assignment.name))


def release(out: Path, only: list[Assignment] | None = None, overwrite: bool = True) -> list[Path]:
    """Write `out/<assignment>/<notebook>.ipynb` for every section; return the files written.

    With overwrite=False an existing notebook is kept, so a learner's work is never replaced.
    """
    chosen = only if only is not None else list(assignments().values())
    if not overwrite:  # nothing to do for sections the learner already has: a second run is instant
        chosen = [a for a in chosen if not all((out / a.name / nb.name).exists() for nb in a.notebooks)]
    written = []
    if not chosen:
        return written
    with tempfile.TemporaryDirectory(prefix="socket-course-release-") as tmp:
        api = make_api(Path(tmp))
        for assignment in chosen:
            folder = generate(api, assignment)
            for nb in sorted(folder.glob("*.ipynb")):
                dest = out / assignment.name / nb.name
                if dest.exists() and not overwrite:
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(nb, dest)
                written.append(dest)
    return written
