"""Print a list of dicts as an aligned text table (no pandas needed).

The notebooks build their tables as lists of dicts (one dict per row) and print them with
:func:`format_table`; numbers get a fixed precision, so the printed text is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def format_table(rows: Sequence[Mapping], columns: Sequence[str] | None = None,
                 formats: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None) -> str:
    """Rows of dicts -> an aligned plain-text table (Markdown pipe syntax).

    Parameters
    ----------
    rows : sequence of dicts; a missing key prints as ``-``
    columns : keys to show, in order (default: the keys of the first row)
    formats : key -> format spec, e.g. ``{"ap": ".1f"}``; floats default to ``.3g``
    headers : key -> column title (default: the key)

    Returns
    -------
    str, one line per row plus a header and a separator line. Numbers are right-aligned.
    """
    if isinstance(rows, Mapping) or not all(isinstance(r, Mapping) for r in rows):
        raise TypeError("rows must be a sequence of dicts")
    if columns is None:
        columns = list(rows[0]) if rows else []
    columns = list(columns)
    formats, headers = dict(formats or {}), dict(headers or {})

    def cell(value, key):
        if value is None:
            return "-"
        if key in formats:
            return format(value, formats[key])
        if isinstance(value, float):
            return format(value, ".3g")
        return str(value)

    body = [[cell(row.get(key), key) for key in columns] for row in rows]
    titles = [headers.get(key, key) for key in columns]
    numeric = [all(isinstance(row.get(key), (int, float)) and not isinstance(row.get(key), bool)
                   for row in rows if row.get(key) is not None) for key in columns]
    widths = [max([len(t)] + [len(r[i]) for r in body]) for i, t in enumerate(titles)]

    def line(cells):
        return "| " + " | ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if num else ("-" * (w + 2)) for w, num in zip(widths, numeric, strict=True)) + "|"
    return "\n".join([line(titles), sep, *(line(r) for r in body)])
