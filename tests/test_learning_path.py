"""The learning path: each notebook ends with a summary, references, 3-5 exercises and the next link.

DESIGN.md (Notebook conventions): "Each notebook ends with a summary, its references (authors,
venue, year), exercises checked by helpers.exercises.check (an untouched stub prints "not
attempted yet" under nbval), and a link to the next notebook"; 05 links back to the README,
whose "Learning path" section shows the order.
"""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_ends_with_summary_references_and_exercises(notebook):
    path, nb = notebook
    text = _markdown(nb)
    headings = re.findall(r"^##\s+(.+?)\s*$", text, flags=re.MULTILINE)
    for needed in ("Summary|What to remember", "References", "Exercises"):
        assert any(re.search(needed, h, flags=re.IGNORECASE) for h in headings), \
            f"{path.name}: no '## {needed}' section"


def test_has_three_to_five_exercises_and_self_checking_ones_are_untouched_stubs(notebook):
    path, nb = notebook
    numbers = set()
    for cell in nb.cells:
        numbers |= {int(n) for n in re.findall(r"\bExercise (\d)\b", cell.source)}
    assert 3 <= len(numbers) <= 5 and numbers == set(range(1, len(numbers) + 1)), \
        f"{path.name}: exercises numbered {sorted(numbers)}, want 1..3 to 1..5"
    checked = [c for c in nb.cells if c.cell_type == "code" and re.search(r"\bcheck\(\"\w+\"", c.source)]
    assert checked, f"{path.name}: at least one exercise checked by helpers.exercises.check"
    for cell in checked:
        assert "NotImplementedError" in cell.source, f"{path.name}: exercise stubs raise NotImplementedError"
        out = "".join(o.get("text", "") for o in cell.get("outputs", []))
        assert "not attempted yet" in out, f"{path.name}: a committed exercise cell prints 'not attempted yet'"


def test_links_to_the_next_notebook(notebook):
    path, nb = notebook
    index = NOTEBOOKS.index(path)
    target = NOTEBOOKS[index + 1].name if index + 1 < len(NOTEBOOKS) else "../README.md"
    tail = "\n".join(c.source for c in nb.cells[-3:] if c.cell_type == "markdown")
    assert re.search(re.escape(target.removeprefix("../")) + r"\)", tail), f"{path.name}: its last cells must link to {target}"


def test_readme_shows_the_learning_path():
    readme = (ROOT / "README.md").read_text()
    assert "## Learning path" in readme
    section = readme.split("## Learning path", 1)[1].split("\n## ", 1)[0]
    for path in NOTEBOOKS:
        assert f"**{path.name[:2]} " in section, f"learning path: {path.name[:2]} missing"
    assert "Needs:" in section and "not measured" in section


def test_readme_is_a_learners_first_page():
    """README (issue 22): short, a picture, Colab for every notebook, set-up in three lines, the test command."""
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    from notebook_template import colab_url

    from helpers import REPO_URL

    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 160, "the README is a first page: <= 160 lines (details go to docs/)"
    pictures = re.findall(r"!\[[^\]]+\]\((docs/images/[^)]+)\)", readme)
    assert pictures, "the README shows a picture from docs/images/"
    for picture in pictures:
        assert (ROOT / picture).stat().st_size <= 200_000, picture
    for path in NOTEBOOKS:
        assert colab_url(path.name) in readme, f"{path.name}: no Colab badge in the README"
        assert f"(notebooks/{path.name})" in readme, f"{path.name}: not in the README's table"
    block = readme.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 3 and block[0].startswith(f"git clone {REPO_URL}"), block
    assert block[1:] == ["pip install -r requirements.txt", "jupyter lab notebooks/"], block
    for doc in ("CONTRIBUTING.md", "docs/measured.md", "docs/rehearsal.md", "docs/benchmarks.md"):
        assert f"({doc})" in readme and (ROOT / doc).is_file(), doc
