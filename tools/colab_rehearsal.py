"""The Colab rehearsal: run every notebook the way a Colab learner does, offline, on this machine.

    python tools/colab_rehearsal.py                 # all notebooks, both passes (CI runs this)
    python tools/colab_rehearsal.py --notebooks 04 05 --passes online --reuse-venv

What it does (README, "Colab"):

1. a fresh Python 3.13 virtual environment with Colab's preinstalled versions
   (``tools/colab/constraints.txt``: torch, torchvision, TensorFlow, Keras 3, numpy 2, ...), not
   requirements.txt's pins; plus pytest, nbval and ipykernel to run the notebooks;
2. a clone of the current commit, which the notebooks' first cell installs from: the cell runs
   unchanged, ``%pip install "od-course-helpers[colab] @ git+{REPO_URL}"`` with
   ``COURSE_REPO_URL=file://<clone>``, taking its Colab branch because a stand-in ``google.colab``
   module is imported at kernel start-up (as Colab's kernel does). ``PIP_CONSTRAINT`` holds the
   constraints file, so, as on Colab, that install cannot replace a preinstalled framework;
   each pass starts from the preinstalled set (what an earlier first cell installed is
   uninstalled; ``--reset each`` does so before every notebook), and before every notebook the
   course package is uninstalled, so every first cell really installs it;
3. torch hub's and TF-Hub's caches pre-filled with random-weight files under the real names
   (``tools/colab/prefill.py``);
4. every notebook under nbval in test mode (``COURSE_FAST=1``), from a scratch folder that holds
   only the notebooks and nbval's sanitize.cfg (no checkout beside them), once with
   ``COURSE_ONLINE=1`` (the pre-filled caches) and once with ``COURSE_OFFLINE=1`` (a Colab whose
   hubs are unreachable: empty caches); ``--passes unreachable`` adds ``COURSE_ONLINE=1`` with
   empty caches (the network probe answers, every download fails);
5. fails on any nbval failure (an error, a checked output that changed), on any offline or
   stand-in notice in the online pass, and on any output claiming real weights where a stand-in
   ran (``tools/colab/checks.py``); prints a summary with timings; exits 1 on failure.

It needs git, a Python 3.13 interpreter (``--python``, else pyenv's 3.13.x, else ``python3.13``)
and PyPI (pip installs), nothing else from the network. The preinstalled set is installed with
``uv`` when it is there (``pip install uv``; its cache makes a warm set-up take seconds), else with
pip (``REHEARSAL_INSTALLER=pip`` forces pip); the notebooks' own ``%pip install`` always uses pip,
as on Colab. This script uses the standard library only.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "colab"))

from checks import scan_notebook  # noqa: E402

CONSTRAINTS = ROOT / "tools" / "colab" / "constraints.txt"
FIRST_CELL_MARKER = "# --- first cell"
RUNNER_PACKAGES = ["pytest>=8", "nbval>=0.11", "ipykernel>=6"]
#: pass -> (flags, caches pre-filled?). "unreachable" (opt-in): the probe says online but every
#: download fails (empty caches, no network), the case where a label must follow what loaded.
PASSES = {"online": ({"COURSE_ONLINE": "1"}, True), "offline": ({"COURSE_OFFLINE": "1"}, False),
          "unreachable": ({"COURSE_ONLINE": "1"}, False)}
DEFAULT_PASSES = ["online", "offline"]
#: Set for every notebook kernel; variables that would leak this machine's set-up are removed.
DROPPED_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "COURSE_ONLINE", "COURSE_OFFLINE", "COURSE_FAST",
               "COURSE_CACHE_DIR", "COURSE_REPO_URL", "TORCH_HOME", "TFHUB_CACHE_DIR", "PIP_CONSTRAINT",
               "IPYTHONDIR", "MPLCONFIGDIR", "JUPYTER_PATH", "JUPYTER_CONFIG_DIR", "PIP_FIND_LINKS")
ANSI = re.compile(r"\x1b\[[0-9;]*m")

GOOGLE_COLAB_STANDIN = '''"""Stand-in for Colab's ``google.colab`` package (the Colab rehearsal, tools/colab_rehearsal.py).

Imported at kernel start-up, as on Colab, so a notebook's ``"google.colab" in sys.modules`` check
takes the Colab branch. It has none of Colab's features.
"""

STAND_IN = True
'''
GOOGLE_COLAB_OUTPUT = '''"""Stand-in for ``google.colab.output``: the widget-manager switch is a no-op outside Colab."""


def enable_custom_widget_manager():
    return None


def disable_custom_widget_manager():
    return None
'''
GOOGLE_COLAB_DRIVE = '''"""Stand-in for ``google.colab.drive``: there is no Google Drive in the rehearsal."""


def mount(mountpoint, *args, **kwargs):
    raise RuntimeError("google.colab.drive.mount: the Colab rehearsal has no Google Drive; a notebook "
                       "must not mount it unless the learner asks for it")
'''
IPYTHON_STARTUP = "import google.colab  # Colab's kernel imports it at start-up: the rehearsal's stand-in\n"


class Failure(Exception):
    """A set-up step failed: the message says which and why."""


def log(message: str) -> None:
    print(f"rehearsal: {message}", flush=True)


def run(cmd, *, env=None, cwd=None, what: str, timeout: float | None = None, quiet: bool = True) -> str:
    """Run ``cmd``; on failure raise :class:`Failure` with ``what`` and the command's last output."""
    done = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, text=True, timeout=timeout,
                          stdout=subprocess.PIPE if quiet else None, stderr=subprocess.STDOUT if quiet else None)
    if done.returncode != 0:
        tail = (done.stdout or "")[-3000:]
        raise Failure(f"{what} failed (exit {done.returncode}): {' '.join(map(str, cmd))}\n{tail}")
    return done.stdout or ""


def find_python313(explicit: str | None) -> Path:
    """``explicit``, else pyenv's newest 3.13.x, else ``python3.13`` on PATH."""
    candidates = [Path(explicit)] if explicit else []
    if not explicit:
        try:
            pyenv_root = subprocess.run(["pyenv", "root"], text=True, capture_output=True, check=True).stdout.strip()
            candidates += sorted(Path(pyenv_root, "versions").glob("3.13*/bin/python"), reverse=True)
        except (OSError, subprocess.CalledProcessError):
            pass
        if shutil.which("python3.13"):
            candidates.append(Path(shutil.which("python3.13")))
    for python in candidates:
        if python.exists():
            version = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"],
                                     text=True, capture_output=True).stdout.split()
            if version == ["3", "13"]:
                return python
    raise Failure("no Python 3.13 interpreter found: pass --python PATH (pyenv install 3.13, or python3.13 on PATH)")


def preinstalled_requirements(constraints: Path = CONSTRAINTS) -> list[str]:
    """The constraints file's pins above the first-cell marker: what the rehearsal preinstalls."""
    pins = []
    for line in constraints.read_text().splitlines():
        if line.startswith(FIRST_CELL_MARKER):
            return pins
        line = line.split("#", 1)[0].strip()
        if line:
            pins.append(line)
    raise Failure(f"{constraints}: no '{FIRST_CELL_MARKER}' line")


def clone_current_commit(dest: Path) -> str:
    """Clone this repository's HEAD into ``dest`` (the notebooks' first cell installs from it)."""
    head = run(["git", "-C", ROOT, "rev-parse", "HEAD"], what="git rev-parse").strip()
    dirty = run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], what="git status").strip()
    if dirty:
        log(f"note: uncommitted changes are NOT rehearsed (the notebooks install commit {head[:12]}):\n{dirty}")
    shutil.rmtree(dest, ignore_errors=True)
    run(["git", "clone", "--quiet", "--no-hardlinks", ROOT, dest], what="git clone")
    run(["git", "-C", dest, "checkout", "--quiet", "--detach", head], what="git checkout")
    return head


def find_uv() -> str | None:
    """The ``uv`` executable (on PATH, or the ``uv`` package of this Python), else None (pip is used)."""
    if os.environ.get("REHEARSAL_INSTALLER", "auto") == "pip":
        return None
    found = shutil.which("uv")
    if found:
        return found
    try:
        import uv  # the PyPI package ships the binary

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        return None


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def site_packages(venv: Path) -> Path:
    out = run([venv_python(venv), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
              what="locating site-packages")
    return Path(out.strip())


def installed(venv: Path) -> dict[str, str]:
    out = run([venv_python(venv), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
              what="pip list")
    return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(out)}


def create_venv(python: Path, venv: Path, env: dict, reuse: bool) -> dict[str, str]:
    """Create the venv with the preinstalled set; return that set ({package: version})."""
    stamp, baseline = venv / "rehearsal-constraints.txt", venv / "rehearsal-baseline.json"
    wanted = CONSTRAINTS.read_text() + "\n".join(RUNNER_PACKAGES)
    if reuse and stamp.exists() and baseline.exists() and stamp.read_text() == wanted:
        log(f"reusing {venv} (--reuse-venv; built from the same constraints)")
        return json.loads(baseline.read_text())
    shutil.rmtree(venv, ignore_errors=True)
    run([python, "-m", "venv", venv], what="creating the Python 3.13 venv")  # with pip, for the notebooks' %pip
    pins = preinstalled_requirements()
    uv = find_uv()
    log(f"installing Colab's preinstalled set ({len(pins)} pins) + {', '.join(RUNNER_PACKAGES)} with "
        f"{'uv (' + uv + ')' if uv else 'pip'} ...")
    if uv:  # same versions, from the same index; uv's cache makes a warm set-up take seconds, not minutes
        cmd = [uv, "pip", "install", "--quiet", "--python", venv_python(venv), "-c", CONSTRAINTS]
    else:
        cmd = [venv_python(venv), "-m", "pip", "install", "--quiet"]
    run([*cmd, *pins, *RUNNER_PACKAGES], env=env, what="installing Colab's preinstalled versions into the venv",
        timeout=3600)
    packages = installed(venv)
    baseline.write_text(json.dumps(packages, indent=0))
    stamp.write_text(wanted)
    return packages


def write_harness(harness: Path, venv: Path, ipython_dir: Path) -> None:
    """The stand-in ``google.colab`` (on the venv's path via a .pth), the nbval capture plugin, an
    empty pytest config, and an IPython start-up file that imports ``google.colab``."""
    shutil.rmtree(harness, ignore_errors=True)
    package = harness / "google" / "colab"  # no google/__init__.py: `google` stays a namespace package (protobuf)
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(GOOGLE_COLAB_STANDIN)
    (package / "output.py").write_text(GOOGLE_COLAB_OUTPUT)
    (package / "drive.py").write_text(GOOGLE_COLAB_DRIVE)
    shutil.copy(ROOT / "tools" / "colab" / "nbval_capture.py", harness / "nbval_capture.py")
    (harness / "pytest.ini").write_text("[pytest]\n")
    (site_packages(venv) / "_colab_rehearsal.pth").write_text(str(harness) + "\n")
    startup = ipython_dir / "profile_default" / "startup"
    shutil.rmtree(ipython_dir, ignore_errors=True)
    startup.mkdir(parents=True)
    (startup / "00-google-colab.py").write_text(IPYTHON_STARTUP)


def reset_packages(venv: Path, baseline: dict[str, str], env: dict, keep: dict | None = None) -> list[str]:
    """Uninstall what is neither in the preinstalled set nor in ``keep``; return the preinstalled
    packages whose version changed (a first cell that replaced a Colab package)."""
    now = installed(venv)
    extra = sorted(set(now) - set(baseline) - set(keep or ()))
    if extra:
        run([venv_python(venv), "-m", "pip", "uninstall", "--yes", "--quiet", *extra], env=env,
            what="resetting the venv to the preinstalled set")
    return [f"{name} {baseline[name]} -> {now[name]}" for name in sorted(baseline)
            if name in now and now[name] != baseline[name]]


def check_install(venv: Path, clone_url: str, env: dict) -> str | None:
    """None when ``helpers`` now imports from the venv's site-packages, installed from the clone."""
    code = ("import importlib.metadata as m, json, helpers; "
            "d = m.distribution('od-course-helpers'); "
            "print(json.dumps({'file': helpers.__file__, 'url': json.loads(d.read_text('direct_url.json') or '{}').get('url')}))")
    done = subprocess.run([venv_python(venv), "-c", code], text=True, capture_output=True, cwd="/", env=env)
    if done.returncode != 0:
        return "after the run, od-course-helpers is not installed: the first cell did not install it"
    info = json.loads(done.stdout)
    if "site-packages" not in info["file"] or info["url"] != clone_url:
        return f"helpers came from {info['file']} (installed from {info['url']}), not a pip install of {clone_url}"
    return None


def nbval_summary(report: str, max_lines: int = 25) -> str:
    """The useful part of nbval's failure report: its message and the traceback/diff, not the cell source."""
    report = ANSI.sub("", report)
    head = next((line for line in report.splitlines() if line.startswith("Cell ")), "")
    tail = report.split("Traceback:", 1)[1] if "Traceback:" in report else ""
    lines = [line for line in tail.strip().splitlines() if line.strip()]
    if len(lines) > max_lines:
        lines = ["..."] + lines[-max_lines:]
    return "\n".join([head, *lines]).strip()


def run_notebook(venv: Path, folder: Path, notebook: str, env: dict, harness: Path, timeout: float):
    """nbval on one notebook from ``folder``; returns (exit code, seconds, capture records)."""
    capture = folder.parent / f"capture-{Path(notebook).stem}.json"
    capture.unlink(missing_ok=True)
    cmd = [venv_python(venv), "-m", "pytest", notebook, "--nbval", "--nbval-current-env",
           "--nbval-sanitize-with", "sanitize.cfg", "--nbval-cell-timeout=900", "-p", "no:cacheprovider",
           "-p", "nbval_capture", "--rootdir", folder, "-c", harness / "pytest.ini", "-q", "-rN", "--color=no"]
    start = time.perf_counter()
    try:
        done = subprocess.run([str(c) for c in cmd], cwd=folder, env=dict(env, REHEARSAL_CAPTURE=str(capture)),
                              text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        code, output = done.returncode, done.stdout
    except subprocess.TimeoutExpired as error:
        output = (error.stdout or b"").decode(errors="replace") if isinstance(error.stdout, bytes) else (error.stdout or "")
        code, output = 124, output + f"\nthe notebook ran past --timeout {timeout:.0f} s and was stopped"
    seconds = time.perf_counter() - start
    (folder.parent / f"pytest-{Path(notebook).stem}.log").write_text(output)
    records = json.loads(capture.read_text()) if capture.exists() else []
    return code, seconds, records, output


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Colab rehearsal (see the module docstring).")
    parser.add_argument("--workdir", type=Path,
                        help="scratch folder for the venv, the clone, the caches and the runs; kept afterwards "
                             "(default: a new temporary folder, removed at the end unless --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workdir (logs, executed outputs)")
    parser.add_argument("--python", help="the Python 3.13 interpreter (default: pyenv's 3.13.x or python3.13)")
    parser.add_argument("--notebooks", nargs="*", default=[], help="notebook name prefixes (default: all)")
    parser.add_argument("--passes", nargs="*", choices=tuple(PASSES), default=DEFAULT_PASSES,
                        help="online (pre-filled caches), offline (COURSE_OFFLINE=1, empty caches), and the "
                             "opt-in unreachable (COURSE_ONLINE=1, empty caches: every download fails)")
    parser.add_argument("--reuse-venv", action="store_true",
                        help="keep the workdir's venv if it was built from the same constraints (local iteration)")
    parser.add_argument("--reset", choices=("pass", "each"), default="pass",
                        help="back to Colab's preinstalled set before each pass's first notebook (pass) or before "
                             "every notebook (each); in between, only the course package is uninstalled")
    parser.add_argument("--tfhub-variant", default="tiny", help="helpers.tfhub stand-in variant put in TF-Hub's cache")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per notebook")
    args = parser.parse_args(argv)
    timings: dict[str, float] = {}
    results = []  # (pass, notebook, exit code, seconds, findings, nbval failures, notes)
    start_all = time.perf_counter()
    if args.workdir is None:
        work = Path(tempfile.mkdtemp(prefix="od-course-rehearsal-"))
        if not args.keep:
            atexit.register(shutil.rmtree, work, ignore_errors=True)
    else:
        work = args.workdir.resolve()
        work.mkdir(parents=True, exist_ok=True)
    log(f"workdir {work}" + ("" if args.workdir or args.keep else " (removed at the end; --keep keeps it)"))
    pip_cache = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")
    base_env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    venv = work / "venv"
    base_env.update(PATH=f"{venv / 'bin'}{os.pathsep}{base_env.get('PATH', '')}", PIP_CONSTRAINT=str(CONSTRAINTS),
                    PIP_CACHE_DIR=pip_cache, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    try:
        t = time.perf_counter()
        python = find_python313(args.python)
        head = clone_current_commit(work / "repo")
        clone_url = (work / "repo").as_uri()
        baseline = create_venv(python, venv, base_env, args.reuse_venv)
        write_harness(work / "harness", venv, work / "ipython")
        versions = ", ".join(f"{n} {baseline[n]}" for n in ("torch", "torchvision", "tensorflow", "keras", "numpy") if n in baseline)
        timings["set-up (venv, clone)"] = time.perf_counter() - t
        log(f"commit {head[:12]}, {python} -> {versions}")

        notebooks = sorted(p.name for p in (work / "repo" / "notebooks").glob("*.ipynb"))
        if args.notebooks:
            notebooks = [n for n in notebooks if n.startswith(tuple(args.notebooks))]
        if not notebooks:
            raise Failure(f"no notebook matches {args.notebooks}")

        caches = {"torch": work / "caches" / "torch", "tfhub": work / "caches" / "tfhub"}
        if any(PASSES[kind][1] for kind in args.passes):
            t = time.perf_counter()
            prefill_env = dict(base_env, PYTHONPATH=str(work / "repo"), TF_CPP_MIN_LOG_LEVEL="2")
            for which, folder in caches.items():
                shutil.rmtree(folder, ignore_errors=True)
                extra = ["--variant", args.tfhub_variant] if which == "tfhub" else []
                out = run([venv_python(venv), work / "repo" / "tools" / "colab" / "prefill.py", which, folder, *extra],
                          env=prefill_env, what=f"pre-filling the {which} cache", timeout=1800)
                print(out.strip(), flush=True)
            timings["pre-filling the hub caches"] = time.perf_counter() - t

        for kind in args.passes:
            t = time.perf_counter()
            pass_dir = work / kind
            shutil.rmtree(pass_dir, ignore_errors=True)
            folder = pass_dir / "notebooks"  # only the notebooks and sanitize.cfg, as on Colab
            folder.mkdir(parents=True)
            for name in notebooks:
                shutil.copy(work / "repo" / "notebooks" / name, folder / name)
            shutil.copy(work / "repo" / "notebooks" / "sanitize.cfg", folder / "sanitize.cfg")
            empty = pass_dir / "empty-caches"
            flags, prefilled = PASSES[kind]
            env = dict(base_env, **flags, COURSE_FAST="1", COURSE_REPO_URL=clone_url,
                       HOME=str(pass_dir / "home"), IPYTHONDIR=str(work / "ipython"),
                       TORCH_HOME=str(caches["torch"] if prefilled else empty / "torch"),
                       TFHUB_CACHE_DIR=str(caches["tfhub"] if prefilled else empty / "tfhub"))
            (pass_dir / "home").mkdir()
            after_first_cell: dict[str, str] = {}  # what the previous notebook's first cell left installed
            for number, name in enumerate(notebooks):
                # The first notebook of a pass (every notebook with --reset each) starts from Colab's
                # preinstalled set; later ones only lose the course package, so that each first cell
                # still installs it (the [colab] extra is the same for every notebook).
                keep = None if args.reset == "each" or number == 0 else after_first_cell
                changed = reset_packages(venv, baseline, base_env, keep=keep)
                notes = [f"a first cell replaced a preinstalled package: {c}" for c in changed]
                log(f"{kind} pass: {name} ...")
                code, seconds, records, output = run_notebook(venv, folder, name, env, work / "harness", args.timeout)
                findings = scan_notebook(name, records, online_pass=prefilled)
                failures = [(r, nbval_summary(r["report"])) for r in records if r["outcome"] == "failed"]
                if code not in (0, 1) or (code == 1 and not failures):
                    failures.append(({"cell": -1, "index": None, "first_line": ""},
                                     f"pytest exit {code}:\n" + "\n".join(output.strip().splitlines()[-15:])))
                after_first_cell = {k: v for k, v in installed(venv).items() if k != "od-course-helpers"}
                problem = check_install(venv, clone_url, base_env)
                if problem:
                    notes.append(problem)
                    code = code or 1
                results.append((kind, name, code, seconds, findings, failures, notes))
                status = "ok" if code == 0 and not findings else "FAILED"
                log(f"{kind} pass: {name} {status} in {seconds:.0f} s "
                    f"({len(records)} cells, {len(failures)} nbval failures, {len(findings)} findings)")
            timings[f"{kind} pass ({len(notebooks)} notebooks)"] = time.perf_counter() - t
    except Failure as error:
        print(f"rehearsal: SET-UP FAILED: {error}", file=sys.stderr, flush=True)
        return 1
    failed = report(results, timings, time.perf_counter() - start_all)
    return 1 if failed else 0


def report(results, timings, total: float) -> bool:
    """Print the summary; return True when anything failed."""
    print("\n=== Colab rehearsal summary ===")
    failed = False
    for kind, name, code, seconds, findings, failures, notes in results:
        bad = code != 0 or findings
        failed |= bool(bad)
        print(f"[{'FAIL' if bad else ' ok '}] {kind:7s} {name:40s} {seconds:6.0f} s")
        for number, (record, summary) in enumerate(failures):
            where = (f"Cell {record['cell']} (cell index {record['index']} in the file: {record['first_line']!r})"
                     if record["cell"] >= 0 else "pytest")
            if number < 3:
                print(f"       nbval: {name} {where}:")
                print("         " + summary.replace("\n", "\n         "))
            else:  # later failures are mostly the first one's consequences: one line each
                print(f"       nbval: {name} {where}: {summary.splitlines()[-1] if summary else ''}")
        for finding in findings:
            print(f"       check: {finding}")
        for note in notes:
            print(f"       note: {note}")
    print("timings: " + "; ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + f"; total {total:.0f} s")
    n_bad = sum(1 for r in results if r[2] != 0 or r[4])
    print(f"rehearsal: {len(results)} notebook runs (notebooks x passes)")
    print(f"rehearsal: {len(results) - n_bad} passed, {n_bad} failed")
    return failed or not results


if __name__ == "__main__":
    sys.exit(main())
