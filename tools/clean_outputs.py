"""Clean a notebook's outputs for committing, and list what the committed-output rules reject.

The committed outputs are the course's face on GitHub (DESIGN.md, Notebook conventions): a
progress bar leaves one final line; no absolute local path, framework C++ log line or warning a
learner cannot act on; each notebook <= 1 MB, each image <= 200 KB.

:func:`clean` (``tools/run_notebooks.py`` calls it after executing a notebook) changes only how
progress is recorded, never what a cell printed:

- a ``tqdm.auto`` bar run in a kernel with ``ipywidgets`` is a widget output whose text
  fallback is frozen at "0%": it is replaced by one text line of the bar's final state, read from
  the widget state nbclient saved; the widget state (hundreds of lines of layout models) is then
  dropped from the notebook's metadata. A bar closed with ``leave=False`` (no saved state) is
  dropped, as Jupyter shows it;
- consecutive stream outputs of one stream are merged, as Jupyter front ends show them, and
  carriage returns are resolved as a terminal does (each line keeps its last state), so a text
  progress bar leaves its final line instead of one fragment per refresh.

:func:`problems` lists every violation of the rules, for ``tests/test_committed_outputs.py``
and for ``run_notebooks.py`` to fail loudly on. A bar that stops before its total by design must
say so on its line, with the word "stopped" (e.g. "stopped: time budget of 900 s reached").
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
    ltext, rtext = html.unescape(left.get("value", "")), html.unescape(right.get("value", ""))
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
            outputs.append(nbformat.v4.new_output("stream", name="stderr", text=text + "\n"))
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


def clean(nb):
    """Clean ``nb``'s outputs in place (see the module docstring) and return it."""
    _widgets_to_text(nb)
    _merge_streams(nb)
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
        seen[key] = seen.get(key, 0) + 1
        n, total = _number(m["n"]), _number(m["total"])
        line = m.group(0).strip()
        if n is not None and total and n < total and "stopped" not in line.lower():
            found.append(f"{where}: progress bar stops at {m['n']}/{m['total']} without saying why "
                         f"(put 'stopped: <reason>' on its line): {line[:120]!r}")
    for (desc, total), count in seen.items():
        if count > 1:
            found.append(f"{where}: {count} states of one progress bar ({desc!r}, total {total}); "
                         "a bar leaves one final line")
    return found


def problems(nb, size: int | None = None) -> list[str]:
    """Every way ``nb``'s outputs break the committed-output rules (empty list: clean).

    Parameters
    ----------
    nb : nbformat.NotebookNode
    size : int, optional
        Size of the notebook file in bytes (default: the size nbformat would write).
    """
    found = []
    size = len(nbformat.writes(nb).encode()) if size is None else size
    if size > MAX_NOTEBOOK_BYTES:
        found.append(f"notebook is {size / 1e6:.2f} MB (> {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB)")
    if "widgets" in nb.metadata:
        found.append("widget state saved in the notebook metadata (run tools/clean_outputs.clean)")
    for index, cell in enumerate(nb.cells):
        where = f"cell {index}"
        cell_text = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            for kind in IMAGE_TYPES:
                if kind in data:
                    raw = data[kind] if isinstance(data[kind], str) else "".join(data[kind])
                    nbytes = len(base64.b64decode(raw))
                    if nbytes > MAX_IMAGE_BYTES:
                        found.append(f"{where}: {kind} output of {nbytes / 1e3:.0f} KB (> {MAX_IMAGE_BYTES / 1e3:.0f} KB)")
            if WIDGET_VIEW in data:
                found.append(f"{where}: widget output (its text fallback is frozen at its first state)")
            if out.output_type == "stream" and "\r" in out.text:
                found.append(f"{where}: stream output with carriage returns (unresolved progress-bar refreshes)")
            for text in _texts(out):
                cell_text.append(text)
                m = LOCAL_PATH.search(text)
                if m:
                    line = text[text.rfind("\n", 0, m.start()) + 1:].split("\n", 1)[0]
                    found.append(f"{where}: absolute local path {m.group(0)!r} in output: {line[:120]!r}")
                m = NOISE.search(text)
                if m:
                    line = text[text.rfind("\n", 0, m.start()) + 1:].split("\n", 1)[0]
                    found.append(f"{where}: framework log line or warning in output: {line[:120]!r}")
        found += _bar_problems(where, "\n".join(t.replace("\r", "\n") for t in cell_text))
    return found
