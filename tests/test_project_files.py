"""The project's own files agree with each other: requirements vs conda env, README commands, CI."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _requirement_lines():
    lines = []
    for raw in (ROOT / "requirements.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append((line, raw))
    return lines


def test_every_requirement_says_who_needs_it():
    undocumented = [raw for line, raw in _requirement_lines() if "#" not in raw and not line.startswith("-e") and not line.startswith("torch===")]
    assert not undocumented, f"requirements without a comment naming their notebook: {undocumented}"
    assert _requirement_lines()[-1][0] == "-e .", "requirements.txt must end with '-e .'"


def test_requirements_include_the_course_stack():
    names = {re.split(r"[<>=!~\[ ]", line, maxsplit=1)[0].lower() for line, _ in _requirement_lines()}
    needed = {"tensorflow", "tensorflow-hub", "setuptools", "torch", "torchvision", "matplotlib", "memory-profiler",
              "jupyterlab", "nbval", "pycocotools", "scikit-image", "tqdm", "opencv-contrib-python-headless"}
    assert needed <= names, f"missing: {needed - names}"
    setuptools = next(line for line, _ in _requirement_lines() if line.startswith("setuptools"))
    assert "<81" in setuptools  # tensorflow_hub imports pkg_resources


def test_environment_yml_installs_exactly_requirements_txt():
    """The conda file has no package list of its own, so it cannot drift from requirements.txt."""
    text = (ROOT / "environment.yml").read_text()
    entries = [line.strip()[2:].strip() for line in text.splitlines() if line.strip().startswith("- ")]
    assert entries == ["conda-forge", "python=3.11", "pip", "pip:", "-r requirements.txt"], entries


def test_readme_states_the_commands_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    for command in ("pip install -r requirements.txt", "jupyter lab notebooks/", "python tools/run_notebooks.py"):
        assert command in readme, command
    assert re.search(r"^pytest$", readme, re.M), "README must give the bare `pytest` test command"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -r requirements.txt" in ci and re.search(r"^\s*python -m pytest\b", ci, re.M)
