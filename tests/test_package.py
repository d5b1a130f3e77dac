"""`import helpers` is light: no framework, lazy submodules, fast."""

import subprocess
import sys

import pytest

import helpers


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_import_helpers_imports_no_framework():
    out = _run("import sys, helpers; print(sorted({'torch','tensorflow','torchvision','matplotlib'} & set(sys.modules)))")
    assert out.strip() == "[]"


def test_import_helpers_is_fast():
    out = _run("import time; t = time.perf_counter(); import helpers; print(time.perf_counter() - t)")
    assert float(out) < 0.5


def test_submodules_load_lazily_and_unknown_names_raise():
    assert helpers.env.fast_mode.__module__ == "helpers.env"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        helpers.nope  # noqa: B018
    assert "env" in dir(helpers)


def test_env_and_viz_import_no_framework():
    out = _run("import sys, helpers.env, helpers.viz, helpers.samples; helpers.env.describe_environment(check_network=False);"
               "print('tensorflow' in sys.modules)")
    assert out.strip() == "False"
