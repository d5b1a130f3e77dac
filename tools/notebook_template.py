"""The course's notebook template: header cell, Colab set-up cell, and a builder for new notebooks.

``python tools/notebook_template.py 06_my_topic "My topic"`` writes ``notebooks/06_my_topic.ipynb``
with the header (title, Colab badge, what you will learn, run times) and the set-up cell every
notebook starts with. ``tests/test_notebooks.py`` checks every notebook against these pieces.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers import REPO_URL  # noqa: E402  (the one place the repository URL is defined)

GITHUB_PATH = REPO_URL.removeprefix("https://github.com/")
SETUP_MARKER = "# Set-up"
#: The environment variable that points the set-up cell's install at another clone (rehearsal).
REPO_URL_VARIABLE = "COURSE_REPO_URL"


def colab_url(notebook_name: str) -> str:
    """The Colab URL that opens ``notebooks/<notebook_name>`` from the repository's main branch."""
    return f"https://colab.research.google.com/github/{GITHUB_PATH}/blob/main/notebooks/{notebook_name}"


def badge_markdown(notebook_name: str) -> str:
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"({colab_url(notebook_name)})"
    )


def header_markdown(notebook_name: str, title: str, learn: list[str], cpu_time: str, gpu_time: str) -> str:
    bullets = "\n".join(f"- {item}" for item in learn)
    return (
        f"# {title}\n\n{badge_markdown(notebook_name)}\n\n"
        f"**What you will learn**\n\n{bullets}\n\n"
        f"**Time to run** (full mode): {cpu_time} on a laptop CPU, {gpu_time} on a Colab GPU. "
        "Set `COURSE_FAST=1` for a quick pass (the test suite does)."
    )


def setup_cell_source(framework: str | None = None, extra_imports: str = "") -> str:
    """The first code cell: on Colab install ``helpers`` from the repository, then describe the machine.

    ``framework`` names the one framework the notebook uses ("torch" or "tensorflow") so that the
    GPU check never imports the other.
    """
    fw = "None" if framework is None else repr(framework)
    lines = [
        f"{SETUP_MARKER}: on Colab, install this course's `helpers` package; everywhere, check versions.",
        "import os",
        "import sys",
        "",
        "# Where the course's package comes from: set COURSE_REPO_URL to install from your own fork.",
        f'REPO_URL = os.environ.get("{REPO_URL_VARIABLE}", "{REPO_URL}")',
        'if "google.colab" in sys.modules:  # Colab: the package comes from the repository',
        '    %pip install -q "od-course-helpers[colab] @ git+{REPO_URL}"',
        "",
        "import helpers",
        "from helpers.env import describe_environment, fast_mode",
        "from helpers.viz import use_course_style",
        "",
        f"print(describe_environment(framework={fw}))",
        "FAST = fast_mode()  # COURSE_FAST=1 shrinks the long work (the test suite sets it)",
        "use_course_style()  # figures you can read where GitHub and Colab show them (text >= 9 pt)",
    ]
    if extra_imports:
        lines += ["", extra_imports]
    return "\n".join(lines)


def new_notebook(notebook_name: str, title: str, learn: list[str], cpu_time: str = "?", gpu_time: str = "?",
                 framework: str | None = None) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(header_markdown(notebook_name, title, learn, cpu_time, gpu_time)),
        # its output (versions, GPU, network) differs per machine: nbval ignores it, by tag
        nbformat.v4.new_code_cell(setup_cell_source(framework), metadata={"tags": ["nbval-ignore-output"]}),
    ]
    return nb


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python tools/notebook_template.py NAME 'Title'")
    name = sys.argv[1] if sys.argv[1].endswith(".ipynb") else sys.argv[1] + ".ipynb"
    path = ROOT / "notebooks" / name
    if path.exists():
        sys.exit(f"{path} exists; not overwriting")
    nbformat.write(new_notebook(name, sys.argv[2], ["..."]), path)
    print(f"wrote {path}")
