"""Feedback that shows learners their results, safely, without giving away hidden tests.

Stock `nbgrader generate_feedback` renders the autograded notebook as it stands: hidden tests included,
every output at full size, and whatever HTML or script the learner's code displayed. Three
preprocessors (configured in grading/nbgrader_config.py, before nbconvert's SanitizeHTML, which strips
script and event handlers from outputs and Markdown) make it fit to send:

- `RedactHiddenTests` (nbgrader's ClearHiddenTests, told to leave a note): each hidden-test region becomes
  a one-line note, and a hidden cell keeps nothing but its verdict and one error line;
- `ScrubHiddenEcho`: an output of any cell that quotes a line of the hidden tests (a learner's code can
  print IPython's history, or its own caller's source) is replaced with a note;
- `CapOutputs`: a flood of output is cut, per output and per notebook, with a note saying how much;
- `SvgAsImage` (after SanitizeHTML): SVG outputs, such as the drawn exchanges, are shown through `<img>`.

`FeedbackExporter` (GenerateFeedback's exporter in grading/nbgrader_config.py) writes the page nbconvert's
HTMLExporter writes, without redoing per submission what is the same for all: templates compiled once per
process, the HTML of unchanged Markdown and code remembered, and nbconvert's BeautifulSoup pass only where
it would change something (tests/test_grading_speed.py holds the pages equal).
"""
from __future__ import annotations

import re

from jinja2 import BytecodeCache, pass_context
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from traitlets import Int

NOTE = "# (hidden tests ran here; their source is not shown)"
ECHO_NOTE = "[output removed from feedback: it quoted the hidden tests]"
MIN_QUOTED = 16  # characters: shorter lines ("assert ok", "pass") are too common to count as a quote


def _error_line(out: dict) -> str:
    return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"


class RedactHiddenTests(ClearHiddenTests):
    """ClearHiddenTests that leaves a note where the hidden region was and reduces the cell's outputs.

    A hidden cell keeps only its verdict (the cell's score, shown by the template) and, when it failed,
    the exception's one line: course_lib's checks put what was expected, what happened and the bytes on
    the wire there. Its tracebacks (which quote the hidden source) and anything it printed are dropped.
    """

    _quoted: list[str]  # the hidden lines of the cell last redacted, long enough to count as a quote

    def _remove_hidden_test_region(self, cell) -> bool:
        original = cell.source
        removed = super()._remove_hidden_test_region(cell)
        self._quoted = []
        if removed:
            kept, inside = [], False
            for line in original.split("\n"):
                if self.begin_test_delimeter in line:
                    inside = True
                    kept.append(line[: len(line) - len(line.lstrip())] + NOTE)
                elif self.end_test_delimeter in line:
                    inside = False
                elif not inside:
                    kept.append(line)
                elif len(line.strip()) >= MIN_QUOTED:
                    self._quoted.append(line.strip())
            cell.source = "\n".join(kept)
        return removed

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        cell, resources = super().preprocess_cell(cell, resources, index)  # calls _remove_hidden_test_region
        hidden_lines = self._quoted
        if hidden_lines:
            resources.setdefault("hidden_lines", []).extend(hidden_lines)
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            cell.outputs = [{"output_type": "error", "ename": o.get("ename", ""), "evalue": o.get("evalue", ""),
                             "traceback": [_error_line(o)]} for o in errors[:1]]
        return cell, resources


def _texts(out: dict) -> list[str]:
    if out.get("output_type") == "stream":
        return [out.get("text", "")]
    if out.get("output_type") == "error":
        return [out.get("evalue", ""), *out.get("traceback", [])]
    return [v if isinstance(v, str) else "\n".join(v) for v in out.get("data", {}).values()
            if isinstance(v, (str, list))]


class ScrubHiddenEcho(NbGraderPreprocessor):
    """Replace any output that quotes a hidden-test line (RedactHiddenTests collects them first)."""

    def preprocess(self, nb, resources):
        lines = set(resources.get("hidden_lines", []))
        if lines:
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                cell.outputs = [{"output_type": "stream", "name": "stdout", "text": ECHO_NOTE}
                                if any(line in text for text in _texts(out) for line in lines) else out
                                for out in cell.get("outputs", [])]
        return nb, resources


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else (
        text[:limit] + f"\n[... {len(text) - limit} more characters cut from the feedback]\n")


class CapOutputs(NbGraderPreprocessor):
    """Cut each output to `per_output` characters and a notebook's outputs to `total` in all."""

    per_output = Int(20_000, help="characters kept of one text output").tag(config=True)
    per_image = Int(200_000, help="characters of one picture (a drawn exchange), kept whole or not at all"
                    ).tag(config=True)
    total = Int(1_000_000, help="characters kept of all outputs of a notebook").tag(config=True)

    def preprocess(self, nb, resources):
        budget = self.total
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            kept = []
            for out in cell.get("outputs", []):
                if budget <= 0:
                    kept.append({"output_type": "stream", "name": "stdout",
                                 "text": "[further output cut from the feedback]\n"})
                    break
                limit = min(self.per_output, budget)
                if out.get("output_type") == "stream":
                    out["text"] = _cut(out.get("text", ""), limit)
                    budget -= len(out["text"])
                elif out.get("output_type") == "error":
                    out["evalue"] = _cut(out.get("evalue", ""), limit)
                    out["traceback"] = [_cut("\n".join(out.get("traceback", [])), limit)]
                    budget -= len(out["evalue"]) + len(out["traceback"][0])
                else:
                    data = out.get("data", {})
                    for mime in list(data):
                        value = data[mime] if isinstance(data[mime], str) else "\n".join(data[mime]) \
                            if isinstance(data[mime], list) else str(data[mime])
                        if len(value) > (min(self.per_image, budget) if mime.startswith("image/") else limit):
                            data.pop(mime)
                        else:
                            budget -= len(value)
                    if not data:
                        out = {"output_type": "stream", "name": "stdout",
                               "text": "[a large display output was cut from the feedback]\n"}
                kept.append(out)
            cell.outputs = kept
        return nb, resources


class SvgAsImage(NbGraderPreprocessor):
    """Show every SVG output through an `<img>` tag, where a browser runs no script it holds.

    nbconvert would inline SVG markup into the page, and SVG can carry script and event handlers; its
    SanitizeHTML therefore drops SVG outputs, the drawn exchanges among them. Configured to let them
    through (grading/nbgrader_config.py), they arrive here and become a base64 data URL in an image tag.
    """

    def preprocess(self, nb, resources):
        import base64

        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                svg = data.pop("image/svg+xml", None)
                if svg is None:
                    continue
                text = svg if isinstance(svg, str) else "".join(svg)
                encoded = base64.b64encode(text.encode()).decode()
                data["text/html"] = f'<img alt="diagram" src="data:image/svg+xml;base64,{encoded}">'
        return nb, resources


# -- rendering: the same page as nbconvert's HTMLExporter, without redoing per job what never changes ------


class TemplateCache(BytecodeCache):
    """Jinja's compiled templates, kept for the life of the process (a Jinja bytecode cache in memory).

    nbgrader makes a new HTMLExporter, and so a new Jinja environment, for every generate_feedback: each
    job compiled the same dozen templates again. Compiled once (in the parent, by warm.py), they are
    inherited by every forked worker. A template whose source changed has another checksum: compiled anew.
    """

    def __init__(self) -> None:
        self.code: dict[str, tuple[str, object]] = {}

    def load_bytecode(self, bucket) -> None:
        found = self.code.get(bucket.key)
        if found is not None and found[0] == bucket.checksum:
            bucket.code = found[1]

    def dump_bytecode(self, bucket) -> None:
        self.code[bucket.key] = (bucket.checksum, bucket.code)


TEMPLATES = TemplateCache()
MEMO_LIMIT = 4096  # entries of each memo below; a full memo starts again empty
_markdown: dict = {}
_highlighted: dict = {}


def _memo(cache: dict, key, make):
    """What `make()` returns for `key`, computed once: a pure function's result, remembered."""
    try:
        return cache[key]
    except KeyError:
        pass
    value = make()
    if len(cache) >= MEMO_LIMIT:
        cache.clear()
    cache[key] = value
    return value


class CachedHighlight(Highlight2HTML):
    """nbconvert's code highlighting, remembering the HTML of each source (test cells are alike in every job)."""

    def __call__(self, source, language=None, metadata=None):
        magics = (metadata or {}).get("magics_language")  # all that nbconvert reads of the cell's metadata
        key = (source, language, magics, self.pygments_lexer, repr(self.extra_formatter_options))
        return _memo(_highlighted, key, lambda: super(CachedHighlight, self).__call__(source, language, metadata))


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTMLExporter, the same page byte for byte, with its templates compiled once per process
    and the HTML of Markdown and of highlighted code remembered (grading/nbgrader_config.py selects it).

    Only pure functions of their input are remembered, keyed by all of it: a learner's own Markdown or
    code misses and is rendered as before. A forked worker inherits what the parent rendered (warm.py:
    the source notebooks), and what it adds ends with it.
    """

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = TEMPLATES
        return environment

    @pass_context
    def markdown2html(self, context, source):
        if context.get("cell", {}).get("attachments"):  # images inside the cell: rendered afresh
            return super().markdown2html(context, source)
        # the notebook's folder is read only to embed images
        path = context.get("resources", {}).get("metadata", {}).get("path", "") if self.embed_images else ""
        key = (source, path, self.embed_images, self.anchor_link_text, self.exclude_anchor_links,
               repr(self.lexer_options))
        return _memo(_markdown, key, lambda: super(FeedbackExporter, self).markdown2html(context, source))

    def from_notebook_node(self, nb, resources=None, **kw):
        """HTMLExporter.from_notebook_node, less its BeautifulSoup pass where that pass would change nothing.

        nbconvert parses the whole page and writes it out again (a third of a job's CPU) to give images
        without alt text a placeholder and JupyterLab's cells a tabindex. Our template (nbgrader's
        feedback, classic) has no JupyterLab cells, so the pass matters only when the page has an image
        without alt text (a learner's plotted output): then the page is rendered by nbconvert's own way.
        """
        info = nb.metadata.get("language_info", {})
        lexer = info.get("pygments_lexer", info.get("name", None))
        highlight = self.filters.get("highlight_code", CachedHighlight(pygments_lexer=lexer, parent=self))
        resources = self._init_resources(resources)
        data_types = WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self, resources=resources)
        self.register_filter("highlight_code", highlight)
        self.register_filter("filter_data_type", data_types)
        html, out = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        if NEEDS_SOUP.search(html):
            return super().from_notebook_node(nb, resources, **kw)
        return html, out


# what nbconvert's BeautifulSoup pass changes: an <img> without alt, JupyterLab's cell markup
NEEDS_SOUP = re.compile(r"<img(?![^>]*\balt\s*=)|jp-Notebook", re.IGNORECASE)
