"""Results recorded by a script in ``benchmarks/`` and shipped with the package, for notebooks to plot.

Some experiments cost more than a notebook's budget on a 2-core CPU (notebook 05's accuracy-against-
time curves for three detectors, two seeds each, up to the main model's budget). A script in
``benchmarks/`` runs them and writes a JSON record here; the notebook loads it with
:func:`load_recorded`, says that it did and where the record comes from (command, commit, machine,
date), and can rerun the script itself on request. The record lives in the package (not only the
repository) because Colab installs the package, not the repository.

A record is a JSON object with at least:

- ``command`` (str): the command line that produced it, to rerun it;
- ``commit`` (str): the repository's commit at the time (``git rev-parse HEAD``, "+dirty" if the
  working tree differed);
- ``machine`` (str): the CPU / GPU and core count, in words;
- ``date`` (str): ISO 8601, UTC;
- ``runs`` (list): the experiment's own results, one dict per run.
"""

from __future__ import annotations

import json
from pathlib import Path

RECORDED = Path(__file__).resolve().parent / "recorded"
REQUIRED = {"command": str, "commit": str, "machine": str, "date": str, "runs": list}


def record_path(name: str) -> Path:
    """The file of the record ``name`` (``helpers/recorded/<name>.json``); ``name`` is a plain file stem."""
    if not isinstance(name, str) or not name or not name.replace("_", "").isalnum():
        raise ValueError(f"a record's name is letters, digits and underscores, got {name!r}")
    return RECORDED / f"{name}.json"


def check_record(record, where: str = "record") -> dict:
    """``record`` itself if it has every required key with the right type; ValueError naming what is wrong."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: a record is a JSON object, got {type(record).__name__}")
    wrong = [f"{key} ({kind.__name__})" for key, kind in REQUIRED.items() if not isinstance(record.get(key), kind)]
    if wrong:
        raise ValueError(f"{where}: missing or of the wrong type: {', '.join(wrong)}")
    if not record["runs"]:
        raise ValueError(f"{where}: 'runs' is empty")
    return record


def load_recorded(name: str) -> dict:
    """The record ``name``, checked (:func:`check_record`); FileNotFoundError says which script writes it."""
    path = record_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"no recorded results {path.name} in {path.parent}: run the script in benchmarks/ "
                                f"that writes it (e.g. python benchmarks/{name}.py)")
    return check_record(json.loads(path.read_text(encoding="utf-8")), where=path.name)


def save_recorded(name: str, record: dict) -> Path:
    """Check ``record`` and write it as ``helpers/recorded/<name>.json`` (indented, UTF-8); return the path."""
    path = record_path(name)
    check_record(record, where=path.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a file
    return path
