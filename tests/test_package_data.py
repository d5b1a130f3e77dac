"""What a package-only install (Colab: ``pip install "od-course-helpers[colab] @ git+URL"``) ships.

Colab installs the package, not the repository: nothing outside ``helpers/`` is there. The shapes
backbone notebook 05 starts from offline, and its SHA-256 record, must be package data; the
dependencies ``helpers`` imports must be declared.
"""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ("helpers/weights/mobilenet_v3_large_shapes.pt", "helpers/weights/mobilenet_v3_large_shapes.pt.sha256")
#: results recorded by benchmarks/ scripts that notebooks load (helpers.recorded): package data too
RECORDS = tuple(str(p.relative_to(ROOT)) for p in sorted((ROOT / "helpers" / "recorded").glob("*.json")))


def test_shapes_backbone_lives_in_the_package():
    from helpers import detection

    assert detection.SHAPES_BACKBONE == ROOT / WEIGHTS[0]
    assert detection.digest_path(detection.SHAPES_BACKBONE) == ROOT / WEIGHTS[1]
    assert all((ROOT / w).is_file() for w in WEIGHTS)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to list the committed files")
def test_a_built_wheel_contains_the_checkpoint_and_its_digest(tmp_path):
    """Build the wheel a non-editable ``pip install .`` / git install builds, from the committed files."""
    src = tmp_path / "src"
    tracked = subprocess.run(["git", "ls-files", "pyproject.toml", "README.md", "helpers"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    for name in tracked + list(WEIGHTS) + list(RECORDS):  # these may be uncommitted in a working copy
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("od_course_helpers-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(WEIGHTS) | set(RECORDS) <= names, sorted(n for n in names if not n.endswith(".py"))
    with zipfile.ZipFile(wheel) as z:
        assert z.read(WEIGHTS[0]) == (ROOT / WEIGHTS[0]).read_bytes()
        assert z.read(WEIGHTS[1]) == (ROOT / WEIGHTS[1]).read_bytes()
        assert all(z.read(r) == (ROOT / r).read_bytes() for r in RECORDS)
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert re.search(r"^Requires-Dist: defusedxml", metadata, re.M)


def test_defusedxml_is_declared_where_pip_reads_it():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(re.match(r"defusedxml\b", d) for d in project["dependencies"])
    lines = [ln for ln in (ROOT / "requirements.txt").read_text().splitlines() if ln.startswith("defusedxml")]
    assert len(lines) == 1 and "#" in lines[0], lines  # declared once, with who needs it
