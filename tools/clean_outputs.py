"""Clean a notebook's outputs for committing, and list what the committed-output rules reject.

The committed outputs are the course's face on GitHub (DESIGN.md, Notebook conventions): a
progress bar leaves one final line; no absolute local path, framework C++ log line or warning a
learner cannot act on; each notebook <= 1 MB, each image <= 200 KB.

:func:`clean` (``tools/run_notebooks.py`` calls it after executing a notebook) changes only how
progress is recorded, never what a cell printed:

- a ``tqdm.auto`` bar run in a kernel with ``ipywidgets`` is a widget output whose text
  fallback (what GitHub shows) is frozen at "0%": it becomes a plain-text display of the bar's
  final state, read from the widget state nbclient saved; the widget state (hundreds of lines of
  layout models) is then dropped from the notebook's metadata. A bar closed with ``leave=False``
  (no saved state) is dropped, as Jupyter shows it;
- a notebook over 1 MB has its largest figures re-encoded as JPEG, largest first (PNGs at quality
  85, then every figure at 70, then 60), until it fits (:func:`fit_size`): the same pictures, a
  lossy encoding;
- consecutive stream outputs of one stream are merged, as Jupyter front ends show them, and
  carriage returns are resolved as a terminal does (each line keeps its last state), so a text
  progress bar leaves its final line instead of one fragment per refresh.

:func:`problems` lists every violation of the rules, for ``tests/test_committed_outputs.py``
and for ``run_notebooks.py`` to fail loudly on. Every progress bar ends at 100 %: a loop that
stops before its total by design closes its bar there with the reason on its line
(:func:`helpers.progress.stop_bar`: "306/306 [..., stopped: time budget of 110 s reached]").
"""

from __future__ import annotations

import base64
import html
import re

import nbformat

MAX_NOTEBOOK_BYTES = 1_000_000
MAX_IMAGE_BYTES = 200_000
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

#: Absolute local paths: what the machine that executed the notebook looked like.
LOCAL_PATH = re.compile(r"/work/|/root/|/home/|/tmp/|/Users/|site-packages|\.venv\b|[A-Za-z]:\\Users\\")
#: Framework log lines written from C++ (absl / TSL format: severity, MMDD, time), known notices,
#: Python warnings printed with their source file, and tqdm's missing-ipywidgets warning.
NOISE = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d:\d\d"          # I0000 00:00:1795293708.889955 ... (absl)
    r"|^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] "  # 2026-01-01 12:00:00.000: I tensorflow/...
    r"|absl::InitializeLog|^WARNING:absl:|oneDNN custom operations|cuInit|cudart_stub"
    r"|Unable to register cu(DNN|FFT|BLAS) factory|TF-TRT Warning"
    r"|TqdmWarning|IProgress not found"
    r"|\.py:\d+: \w*Warning:",              # a Python warning with the file that raised it
    re.MULTILINE,
)
#: One tqdm text bar: "desc: 45%|####5     | 1800/4000 [07:00<08:33, 4.29it/s, loss=0.3]".
BAR = re.compile(r"^(?P<desc>.*?)(?P<pct>\d+)%\|(?P<bar>[^|\n]*)\|\s*(?P<n>[\d.]+[kMG]?)/(?P<total>[\d.]+[kMG]?)"
                 r"(?P<rest>[^\n]*)$", re.MULTILINE)


# --------------------------------------------------------------------------------------------
# cleaning
# --------------------------------------------------------------------------------------------

def resolve_carriage_returns(text: str) -> str:
    """Each line as a terminal leaves it: the part after its last carriage return.

    ``"a 10%\\ra 50%\\ra 100%\\n"`` becomes ``"a 100%\\n"``. A line that ends up blank (a bar
    that erased itself) is dropped.
    """
    lines = []
    for line in text.split("\n"):
        if "\r" in line:
            parts = [p for p in line.split("\r") if p.strip()]
            line = parts[-1] if parts else ""
            if not line:
                continue
        lines.append(line)
    return "\n".join(lines)


def _bar_text(model_id: str, state: dict) -> str | None:
    """Final text of a tqdm widget bar (an HBox of HTML, FloatProgress, HTML), or None."""
    box = state.get(model_id)
    if box is None or box.get("model_name") != "HBoxModel":
        return None
    children = [state.get(str(c).removeprefix("IPY_MODEL_"), {}) for c in box["state"].get("children", [])]
    kinds = [c.get("model_name") for c in children]
    if kinds != ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
        return None
    left, progress, right = (c.get("state", {}) for c in children)
    value, maximum = progress.get("value") or 0, progress.get("max") or 0
    # tqdm.notebook writes spaces as U+2007 (figure space) to keep the widths: back to plain spaces
    ltext, rtext = (html.unescape(part.get("value", "")).replace("\u2007", " ") for part in (left, right))
    if not maximum:  # no total: tqdm shows no bar
        return f"{ltext}{rtext}".rstrip()
    filled = max(0, min(10, int(10 * value / maximum)))
    return f"{ltext}|{'█' * filled}{' ' * (10 - filled)}|{rtext}".rstrip()


def _widgets_to_text(nb) -> None:
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW not in data:
                outputs.append(out)
                continue
            text = _bar_text(data[WIDGET_VIEW].get("model_id", ""), state)
            if text is None and data[WIDGET_VIEW].get("model_id", "") not in state:
                continue  # closed with leave=False: Jupyter shows nothing either
            if text is None:  # another widget: keep its text fallback, not a dangling view
                text = data.get("text/plain", "")
            # a plain-text display, like the widget's own text fallback (so nbval compares it with a
            # fresh run's widget output), but showing the final state
            outputs.append(nbformat.v4.new_output("display_data", data={"text/plain": text}))
        if "outputs" in cell:
            cell["outputs"] = outputs
    nb.metadata.pop("widgets", None)


def _merge_streams(nb) -> None:
    for cell in nb.cells:
        merged = []
        for out in cell.get("outputs", []):
            prev = merged[-1] if merged else None
            if (out.output_type == "stream" and prev is not None and prev.output_type == "stream"
                    and prev.name == out.name):
                prev.text += out.text
            else:
                merged.append(out)
        for out in merged:
            if out.output_type == "stream":
                out.text = resolve_carriage_returns(out.text)
        if "outputs" in cell:
            cell["outputs"] = [o for o in merged if o.output_type != "stream" or o.text.strip()]


def _notebook_bytes(nb) -> int:
    return len(nbformat.writes(nb).encode("utf-8")) + 1


def _as_jpeg(image_b64: str, quality: int) -> str:
    """A base64 PNG or JPEG figure re-encoded as a base64 JPEG (transparency flattened onto white)."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(image_b64)))
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality, optimize=True)
    return base64.b64encode(out.getvalue()).decode("ascii")


def fit_size(nb, limit: int = MAX_NOTEBOOK_BYTES, qualities=(85, 70, 60, 50, 40)) -> int:
    """Re-encode the largest figures as JPEG, largest first, until ``nb`` fits in ``limit`` bytes.

    Only when the notebook is over the limit, and only figures (``image/png`` or ``image/jpeg``
    display data): first the PNGs at ``qualities[0]``, then, if that is not enough, every figure
    at each lower quality in turn. What they show is unchanged; the encoding is lossy. Returns how
    many re-encodings were kept.
    """
    changed = 0
    for step, quality in enumerate(qualities):
        if _notebook_bytes(nb) <= limit:
            break
        kinds = ("image/png",) if step == 0 else ("image/png", "image/jpeg")
        figures = [(out, kind) for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
                   for kind in kinds if kind in out.get("data", {})]
        figures.sort(key=lambda item: -len(item[0]["data"][item[1]]))
        for out, kind in figures:
            jpeg = _as_jpeg(out["data"][kind], quality)
            if len(jpeg) >= len(out["data"][kind]):
                continue
            del out["data"][kind]
            out["data"]["image/jpeg"] = jpeg
            if kind in out.get("metadata", {}):  # the display size, if the kernel gave one
                out["metadata"]["image/jpeg"] = out["metadata"].pop(kind)
            changed += 1
            if _notebook_bytes(nb) <= limit:
                return changed
    return changed


def clean(nb):
    """Clean ``nb``'s outputs in place (see the module docstring) and return it."""
    _widgets_to_text(nb)
    _merge_streams(nb)
    fit_size(nb)
    return nb


# --------------------------------------------------------------------------------------------
# checking
# --------------------------------------------------------------------------------------------

def _number(text: str) -> float | None:
    scale = {"k": 1e3, "M": 1e6, "G": 1e9}.get(text[-1:], 1.0)
    try:
        return float(text.rstrip("kMG")) * scale
    except ValueError:
        return None


def _texts(out) -> list[str]:
    if out.output_type == "stream":
        return [out.text]
    if out.output_type == "error":
        return ["\n".join(out.get("traceback", [])), out.get("evalue", "")]
    data = out.get("data", {})
    return [v if isinstance(v, str) else "".join(v) for k, v in data.items()
            if k.startswith("text/") or k in ("application/json",)]


def _bar_problems(where: str, text: str) -> list[str]:
    found, seen = [], {}
    for m in BAR.finditer(text):
        key = (m["desc"].strip(), m["total"])
        n, total = _number(m["n"]), _number(m["total"])
        seen.setdefault(key, []).append(n is not None and bool(total) and n >= total)
        line = m.group(0).strip()
        if n is not None and total and n < total:
            found.append(f"{where}: progress bar ends short of 100 % ({m['n']}/{m['total']}), which reads as a "
                         "crash; a loop that stops early closes its bar with helpers.progress.stop_bar(bar, "
                         f"reason) (or iterates helpers.progress.budgeted): {line[:120]!r}")
    for (desc, total), complete in seen.items():
        # several complete bars of one label (a loop over seeds) are separate bars; an incomplete
        # line beside others of its label is an earlier state of one bar
        if len(complete) > 1 and not all(complete):
            found.append(f"{where}: {len(complete)} states of one progress bar ({desc!r}, total {total}); "
                         "a bar leaves one final line")
    return found


#: Longest output line a learner reads without horizontal scrolling or wrapping into a wall.
MAX_LINE_CHARS = 120
#: Outputs whose text/plain is only a fallback (the front end shows the richer representation).
RICH_TYPES = ("text/html", "text/markdown", "text/latex", "image/svg+xml", *IMAGE_TYPES, WIDGET_VIEW)
#: An exercise cell calls helpers.exercises.check; its result must not echo as a bare True/False.
EXERCISE_CALL = re.compile(r"(?<![\w.])check\(")
#: The rules, each a key of :func:`problems_by_rule`'s result.
RULES = ("size", "images", "widgets", "local paths", "noise", "progress bars", "line length", "exercise echo",
         "figure style")

#: Figure rules readable in a cell's source (helpers.viz.use_course_style sets the rest).
FONT_TOO_SMALL = re.compile(r"\b(?:fontsize|size)\s*=\s*(?P<pt>[0-8](?:\.\d+)?)\b(?!\.)")
DPI_OVERRIDE = re.compile(r"""rcParams\s*(?:\[\s*["']figure\.dpi["']\s*\]\s*=|\.update\([^)]*["']figure\.dpi["'])"""
                          r"|\bdpi\s*=\s*(?P<dpi>\d+)")
#: A cell that draws a figure.
PLOTS = re.compile(r"\bplt\.|matplotlib|draw_boxes|plot_pr_curve|bar_chart|show_jpeg")
FIGSIZE = re.compile(r"figsize\s*=\s*\(\s*(?P<w>[\d.]+)\s*(?:\*[^,]*)?,")
#: Widest figure (inches at 100 dpi) that GitHub's column shows unscaled (helpers.viz.DISPLAY_WIDTH_PX).
MAX_FIGURE_INCHES = 8.8


def _shown_texts(out) -> list[str]:
    """The text a learner sees for ``out``: streams, and text/plain only when nothing richer is shown."""
    if out.output_type == "stream":
        return [out.text]
    if out.output_type == "error":
        return ["\n".join(out.get("traceback", []))]
    data = out.get("data", {})
    if any(kind in data for kind in RICH_TYPES):
        return []
    plain = data.get("text/plain", "")
    return [plain if isinstance(plain, str) else "".join(plain)]


def figure_style_problems(nb) -> list[str]:
    """Figure rules a notebook's code breaks where they can be read from the source."""
    found = []
    code = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    draws = any(PLOTS.search(src) for _, src in code)
    if draws and not any("use_course_style()" in src for _, src in code):
        found.append("no cell calls helpers.viz.use_course_style() (the set-up cell does, as "
                     "tools/notebook_template.py writes it)")
    for index, src in code:
        for m in FONT_TOO_SMALL.finditer(src):
            found.append(f"cell {index}: font size {m['pt']} pt (< 9 pt; the course style's defaults are readable): "
                         f"{_line_at(src, m.start())!r}")
        for m in DPI_OVERRIDE.finditer(src):
            if m["dpi"] is None or int(m["dpi"]) < 100:
                found.append(f"cell {index}: overrides the figure dpi (use_course_style sets 100 dpi): "
                             f"{_line_at(src, m.start())!r}")
        for m in FIGSIZE.finditer(src):
            if float(m["w"]) > MAX_FIGURE_INCHES:
                found.append(f"cell {index}: figsize {m['w']} in wide (> {MAX_FIGURE_INCHES} in = 880 px; GitHub "
                             f"scales it down and its text with it): {_line_at(src, m.start())!r}")
    return found


def _line_at(text: str, pos: int) -> str:
    return text[text.rfind("\n", 0, pos) + 1:].split("\n", 1)[0].strip()[:120]


def problems_by_rule(nb, size: int | None = None) -> dict[str, list[str]]:
    """Every way ``nb`` breaks the committed-output rules, by rule (``RULES``); empty lists: clean."""
    found = {rule: [] for rule in RULES}
    size = len(nbformat.writes(nb).encode()) if size is None else size
    if size > MAX_NOTEBOOK_BYTES:
        found["size"].append(f"notebook is {size / 1e6:.2f} MB (> {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB)")
    if "widgets" in nb.metadata:
        found["widgets"].append("widget state saved in the notebook metadata (run tools/clean_outputs.clean)")
    for index, cell in enumerate(nb.cells):
        where = f"cell {index}"
        cell_text = []
        exercise = cell.cell_type == "code" and EXERCISE_CALL.search(cell.source) is not None
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            for kind in IMAGE_TYPES:
                if kind in data:
                    raw = data[kind] if isinstance(data[kind], str) else "".join(data[kind])
                    nbytes = len(base64.b64decode(raw))
                    if nbytes > MAX_IMAGE_BYTES:
                        found["images"].append(f"{where}: {kind} output of {nbytes / 1e3:.0f} KB "
                                               f"(> {MAX_IMAGE_BYTES / 1e3:.0f} KB)")
            if WIDGET_VIEW in data:
                found["widgets"].append(f"{where}: widget output (its text fallback is frozen at its first state)")
            if out.output_type == "stream" and "\r" in out.text:
                found["progress bars"].append(f"{where}: stream output with carriage returns "
                                              "(unresolved progress-bar refreshes)")
            if exercise and out.output_type == "execute_result" and data.get("text/plain", "").strip() in (
                    "True", "False"):
                found["exercise echo"].append(
                    f"{where}: the exercise cell echoes a bare {data['text/plain'].strip()} under its message; "
                    "assign it: passed = check(...) (nbval does not honour a trailing ';')")
            for text in _shown_texts(out):
                for line in text.split("\n"):
                    if len(line) > MAX_LINE_CHARS:
                        found["line length"].append(f"{where}: output line of {len(line)} characters (> "
                                                    f"{MAX_LINE_CHARS}): {line[:80]!r}...")
            for text in _texts(out):
                cell_text.append(text)
                m = LOCAL_PATH.search(text)
                if m:
                    found["local paths"].append(f"{where}: absolute local path {m.group(0)!r} in output: "
                                                f"{_line_at(text, m.start())!r}")
                m = NOISE.search(text)
                if m:
                    found["noise"].append(f"{where}: framework log line or warning in output: "
                                          f"{_line_at(text, m.start())!r}")
        found["progress bars"] += _bar_problems(where, "\n".join(t.replace("\r", "\n") for t in cell_text))
    found["figure style"] = figure_style_problems(nb)
    return found


def problems(nb, size: int | None = None) -> list[str]:
    """Every way ``nb``'s outputs break the committed-output rules (empty list: clean).

    Parameters
    ----------
    nb : nbformat.NotebookNode
    size : int, optional
        Size of the notebook file in bytes (default: the size nbformat would write).
    """
    return [problem for found in problems_by_rule(nb, size).values() for problem in found]
