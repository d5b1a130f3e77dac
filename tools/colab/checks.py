"""What the Colab rehearsal checks in the executed notebooks' outputs (standard library only).

The rehearsal (``tools/colab_rehearsal.py``) runs every notebook under nbval twice: with
``COURSE_ONLINE=1`` against pre-filled hub caches, and with ``COURSE_OFFLINE=1``. nbval already
fails on errors and on changed checked outputs; :func:`scan_notebook` adds what nbval cannot see:

- ``error``: a cell raised (reported with its exception line, even where nbval's own report is long);
- ``offline-notice`` (online pass only): an output says the run went offline or fell back to a
  stand-in, although every weight file the notebooks download was in the cache;
- ``false-claim`` (any pass): an output claims real pretrained weights (TF-Hub weights, COCO
  weights, an "ONLINE run") in a notebook whose outputs also carry an offline/stand-in notice,
  i.e. a label that follows the network probe rather than what actually loaded.

The phrases follow the notebooks' and helpers' own wording (``helpers.tfhub.load_detector``'s
``[offline] ... not reachable ... stand-in`` notice, ``DetectorInfo``'s "TF-Hub weights" /
"stand-in (..., random weights)", notebook 04's "ONLINE run: real TF-Hub weights" / "OFFLINE run",
``helpers.detection.default_weights``'s "online: starting from torchvision's COCO-trained ..." /
"offline: torchvision's COCO weights are not reachable ..." / "online, but torchvision's COCO weights for
... could not be loaded (...)" (a download that failed) / "offline and no backbone checkpoint:
training from random weights"). "random weights" alone is not an offline notice: notebook 03
builds architectures with random weights on purpose and says so in both passes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: An output line that says the run is offline or fell back to a stand-in.
OFFLINE_NOTICE = re.compile(
    r"\boffline\b|\bstand-ins?\b|not reachable|unreachable|download failed|could not (?:be )?(?:downloaded?|loaded)",
    re.IGNORECASE,
)
#: An output line claiming that real pretrained weights ran.
REAL_WEIGHTS_CLAIM = re.compile(
    r"\breal (?:TF-Hub |pretrained |COCO )?weights\b|\bTF-Hub weights\b|\bCOCO(?:-trained| weights)\b|\bONLINE run\b",
    re.IGNORECASE,
)

#: A line that names real weights only to say they were not used is a notice, not a claim.
NOT_A_CLAIM = re.compile(
    OFFLINE_NOTICE.pattern + r"|\bnot\b|\bno\b|n't\b|\bunavailable\b|\bwithout\b|\binstead of\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Finding:
    """One problem in one cell: ``kind`` is "error", "offline-notice" or "false-claim".

    ``cell`` is nbval's cell number (the N-th code cell, from 0, as in nbval's "Cell N");
    ``index`` the cell's position among all cells of the file (from 0), when known.
    """

    notebook: str
    cell: int
    kind: str
    text: str
    index: int | None = None

    def __str__(self) -> str:
        where = f"Cell {self.cell}" + ("" if self.index is None else f" (cell index {self.index} in the file)")
        return f"{self.notebook} {where}: {self.kind}: {self.text}"


def final_text(text: str) -> str:
    """What a terminal shows for ``text``: each line's last carriage-return segment (progress bars)."""
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def output_text(output: dict) -> str:
    """The human-readable text of one nbformat output: stream text, ``text/plain`` data, or the error."""
    kind = output.get("output_type")
    if kind == "stream":
        text = output.get("text", "")
        return final_text("".join(text) if isinstance(text, list) else text)
    if kind == "error":
        return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
    data = output.get("data", {})
    plain = data.get("text/plain", "")
    return "".join(plain) if isinstance(plain, list) else plain


def _lines(cells):
    for cell in cells:
        for output in cell.get("outputs") or []:
            for line in output_text(output).splitlines():
                if line.strip():
                    yield cell, output, line.strip()


def scan_notebook(notebook: str, cells: list[dict], online_pass: bool) -> list[Finding]:
    """Check one executed notebook's outputs.

    Parameters
    ----------
    notebook : the notebook's file name (for the report)
    cells : one dict per executed code cell, ``{"cell": index, "outputs": [nbformat outputs]}``,
        in execution order (what ``tools/colab/nbval_capture.py`` records)
    online_pass : True for the ``COURSE_ONLINE=1`` pass: any offline/stand-in notice is a finding

    Returns
    -------
    list of :class:`Finding`, in cell order; empty when the notebook is clean.
    """
    findings = []
    lines = list(_lines(cells))

    def found(cell, kind, text):
        findings.append(Finding(notebook, cell["cell"], kind, text, cell.get("index")))

    for cell, output, line in lines:
        if output.get("output_type") == "error":
            found(cell, "error", line)
    evidence = [(cell["cell"], line) for cell, _, line in lines if OFFLINE_NOTICE.search(line)]
    for cell, output, line in lines:
        if output.get("output_type") == "error":
            continue
        if online_pass and OFFLINE_NOTICE.search(line):
            found(cell, "offline-notice", line)
        if evidence and REAL_WEIGHTS_CLAIM.search(line) and not NOT_A_CLAIM.search(line):
            where, said = evidence[0]
            found(cell, "false-claim", f"{line!r} although Cell {where} says {said!r}")
    return sorted(set(findings), key=lambda f: (f.cell, f.kind, f.text))
