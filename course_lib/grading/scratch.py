"""nbgrader's gradebooks in scratch course roots, without the costs meant for a lasting database.

Every gradebook socket-course's commands open with `make_api` lives in a course root that the same run
made and will throw away (grading copies the class gradebook to OUT at the end, from a closed file).
nbgrader commits after almost every row, and SQLite makes each commit durable with fsync: on a busy disk
that was most of nbgrader's bookkeeping (generate_assignment's ~50 commits per section, autograde's per
cell). A scratch root's gradebook runs with `synchronous=OFF` and its rollback journal in memory: a crash
loses the run's scratch, which the next run rebuilds anyway. Gradebooks anywhere else are untouched.

A new gradebook asks the `alembic` command, in a subprocess, for its schema version (nbgrader.api's
get_alembic_version); the same answer comes from alembic's own API in this process, once.

nbgrader makes a new SQLAlchemy engine for every Gradebook (a dozen per autograded submission), and each
new engine compiles every query again; a scratch gradebook's engine is made once per process and kept
(its compiled queries with it). Gradebook.close() still disposes of its connections.

nbgrader's check of every cell's nbgrader metadata (CheckCellMetadata, SaveCells: a third of generating an
assignment, twice per autograde) calls jsonschema.validate, which checks the schema itself against its
meta-schema every time; the schema is checked once here and its validator kept. The same errors are
raised (jsonschema's best_match over the same validator's errors).
"""
from __future__ import annotations

import functools
import json
import os
import types
from pathlib import Path

_ROOTS: set[str] = set()


def register(root: Path) -> None:
    """Treat the gradebooks under `root` (a course root this run made) as scratch."""
    _ROOTS.add(os.path.realpath(root))
    _install()


def _is_scratch(path: str) -> bool:
    real = os.path.realpath(path) if path else ""
    return any(real == r or real.startswith(r + os.sep) for r in _ROOTS)


def _on_connect(dbapi_connection, _record) -> None:
    try:
        files = [row[2] for row in dbapi_connection.execute("PRAGMA database_list")]
    except Exception:  # not SQLite: nothing to do
        return
    if files and _is_scratch(files[0]):
        dbapi_connection.execute("PRAGMA synchronous=OFF")
        dbapi_connection.execute("PRAGMA journal_mode=MEMORY")


@functools.cache
def _alembic_head(original):
    try:
        from alembic.script import ScriptDirectory
        from nbgrader.dbutil import ALEMBIC_DIR

        head = ScriptDirectory(ALEMBIC_DIR).get_current_head()
        if head:
            return head
    except Exception:  # nbgrader's own way, then
        pass
    return original()


_ENGINES: dict = {}


def _engine(original, url, **options):
    """nbgrader's create_engine, once per scratch gradebook and process (a forked child makes its own)."""
    path = str(url).removeprefix("sqlite:///")
    if not str(url).startswith("sqlite:///") or not _is_scratch(path):
        return original(url, **options)
    key = (os.getpid(), str(url), tuple(sorted(options.items())))
    if key not in _ENGINES:
        if len(_ENGINES) >= 16:  # runs of a long-lived process (benchmarks) leave theirs behind
            _ENGINES.clear()
        _ENGINES[key] = original(url, **options)
    return _ENGINES[key]


_VALIDATORS: dict = {}


def _validate(instance, schema) -> None:
    """jsonschema.validate, with each schema checked once and its validator kept."""
    import jsonschema

    key = json.dumps(schema, sort_keys=True)
    validator = _VALIDATORS.get(key)
    if validator is None:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validator = _VALIDATORS[key] = cls(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


@functools.cache
def _install() -> None:
    import nbgrader.api
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    event.listen(Engine, "connect", _on_connect)
    original = nbgrader.api.get_alembic_version
    nbgrader.api.get_alembic_version = functools.partial(_alembic_head, original)
    nbgrader.api.create_engine = functools.partial(_engine, nbgrader.api.create_engine)
    import nbgrader.nbgraderformat.common as metadata

    metadata.jsonschema = types.SimpleNamespace(validate=_validate)  # type: ignore[assignment]
