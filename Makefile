# socket-course: two commands for everyone (see README.md).
#   make lab    set up .venv, build your notebooks in ./student, open JupyterLab on 127.0.0.1
#   make test   set up .venv and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lab test lint coverage venv release bench clean diagrams

venv: $(STAMP)

# Re-install only when the project's dependencies change: a second run is instant.
# uv installs in parallel (seconds, not a minute); pip does the same work where uv cannot be had.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@($(BIN)/python -m pip install --quiet uv && \
	  $(BIN)/python -m uv pip install --quiet --python $(BIN)/python -e '.[test]') || \
	 ($(BIN)/python -m pip install --quiet --upgrade pip && $(BIN)/python -m pip install --quiet -e '.[test]')
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/socket-course lab --dir student

# two or more workers (pytest-xdist): one per core, each file's tests in one worker (tests/conftest.py)
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile

# the code's habits: ruff (style, bugbear, no time.sleep without a reason) and mypy over course_lib
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# branch coverage of the harness, apart from the timed suite (a tracer changes timings)
coverage: $(STAMP)
	$(BIN)/python -m pytest --cov=course_lib --cov-branch --cov-report=term tests/course_lib tests/exercises

release: $(STAMP)
	$(BIN)/socket-course release --out release

# After changing a Mermaid diagram in a notebook: render it to SVG for the feedback (needs npm and chromium).
MMDC := .mermaid-cli/node_modules/.bin/mmdc
diagrams: $(STAMP)
	@test -x $(MMDC) || PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix .mermaid-cli --no-audit --no-fund @mermaid-js/mermaid-cli@11
	$(BIN)/python -m course_lib.grading.diagrams --mmdc $(MMDC)

bench: $(STAMP)
	$(BIN)/python benchmarks/harness.py
	$(BIN)/python benchmarks/grading.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .coverage htmlcov release
