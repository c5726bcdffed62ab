"""What both benchmarks share: the user's install of netkit, the nginx peer, the tools, output.

* :func:`bench_venv` builds (or reuses) a venv with a REGULAR, non-editable install of the
  working tree, because that is what users run: the dev venv's editable install adds a
  path hook, and its start-up is not the one a Nagios server pays for.
* :func:`nginx_peer` runs the test harness's nginx (tests/peers) with a throw-away PKI.
* :func:`child_env` is the environment every measured command gets.
* :func:`table`, :func:`verdict` and :func:`ratio` print results the same way in both.

Standard library only, plus the harness modules under tests/peers.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the harness is imported as the package `tests.peers`
    sys.path.insert(0, str(REPO))

from tests.peers.certs import make_pki  # noqa: E402
from tests.peers.nginx import Nginx, running_nginx  # noqa: E402

# The cached user venvs live here (git-ignored by benchmarks/.gitignore).
CACHE = REPO / "benchmarks" / ".cache"
# Top-level entries of the working tree that are not part of what `pip install .` builds.
NOT_SHIPPED = {
    ".git", ".venv", ".ci", ".hypothesis", ".pytest_cache", "benchmarks", "build", "examples",
    "tests", "dist",
}
# Names skipped at every depth when copying the tree (build debris, caches).
DEBRIS = ("__pycache__", "*.pyc", "*.egg-info", ".DS_Store")
# A regular install downloads nothing here (pip reads the local index), but a cold build of
# the wheel plus cryptography and uvloop can take a while on a slow machine.
INSTALL_TIMEOUT = 600
# Where Debian puts the monitoring-plugins binaries.
PLUGIN_DIR = "/usr/lib/nagios/plugins"


class BenchError(RuntimeError):
    """The benchmark could not run (missing tool, failed install, a check that fails)."""


# --- the user's install -------------------------------------------------------------------

def _ignore(directory: str, names: list[str]) -> set[str]:
    skipped = set(shutil.ignore_patterns(*DEBRIS)(directory, names))
    if Path(directory) == REPO:
        skipped |= NOT_SHIPPED & set(names)
    return skipped


def _source_digest(tree: Path) -> str:
    """A hash of every file's path and bytes under ``tree`` (the copy pip installs from)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(tree)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


# A cached venv not built or reused for this long is removed by the next build.
STALE_VENV = 6 * 3600


def bench_venv(rebuild: bool = False, log=print, extras: str = "") -> Path:
    """A venv with netkit installed from the working tree, non-editable; returns its path.

    The working tree is first copied to a temp dir (without .git, .venv, tests, build debris):
    pip then builds from the copy, so the build writes no ``build/`` or ``*.egg-info`` into the
    tree another engineer is editing. The venv is cached in ``benchmarks/.cache/venv-<hash>``
    keyed on the bytes of that copy, so an edit to src/ gets a fresh install and a re-run
    without edits costs nothing. Cached venvs unused for STALE_VENV seconds are removed.
    ``extras`` (e.g. "monitor") installs those optional dependencies too, in a venv of its own.
    """
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="netkit-src-") as tmp:
        src = Path(tmp) / "netkit"
        shutil.copytree(REPO, src, ignore=_ignore)
        venv = CACHE / f"venv-{_source_digest(src)}{'-' + extras if extras else ''}"
        done = venv / ".netkit-bench-complete"
        if done.exists() and not rebuild:
            os.utime(venv)  # in use: not stale
            log(f"reusing {venv.relative_to(REPO)} (regular install of the current tree)")
            return venv
        log(f"building {venv.relative_to(REPO)}: python -m venv + pip install (non-editable) ...")
        shutil.rmtree(venv, ignore_errors=True)
        # `python -m venv` from the dev venv's python makes a venv of the same base interpreter.
        _run_install([sys.executable, "-m", "venv", str(venv)])
        _run_install([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                      "--disable-pip-version-check", "--no-input",
                      f"{src}[{extras}]" if extras else str(src)])
    if not (venv / "bin" / "netkit").exists():
        raise BenchError(f"{venv}/bin/netkit is missing after pip install")
    done.touch()
    # Old venvs go, but not one another benchmark (another session, another tree state)
    # may be using right now: only those unused for STALE_VENV seconds.
    import time

    for old in CACHE.glob("venv-*"):
        if old != venv and time.time() - old.stat().st_mtime > STALE_VENV:
            shutil.rmtree(old, ignore_errors=True)
    return venv


def _run_install(command: list[str]) -> None:
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
                              env=child_env())
    except subprocess.TimeoutExpired:
        raise BenchError(f"{' '.join(command)} took over {INSTALL_TIMEOUT} s") from None
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")


# --- peers and tools ----------------------------------------------------------------------

@contextlib.contextmanager
def nginx_peer() -> Iterator[Nginx]:
    """The test harness's nginx with a fresh PKI in a temp dir; stopped and removed on exit."""
    with tempfile.TemporaryDirectory(prefix="netkit-bench-") as tmp:
        (Path(tmp) / "pki").mkdir()
        pki = make_pki(Path(tmp) / "pki")
        with running_nginx(Path(tmp) / "nginx", pki) as nginx:
            yield nginx


def need_tool(name: str, debian_package: str, directory: str | None = None) -> str:
    """Absolute path of a tool; BenchError naming the Debian package when it is missing."""
    found = shutil.which(name, path=directory) if directory else shutil.which(name)
    if not found:
        raise BenchError(f"{name} is not installed: apt-get install {debian_package} "
                         f"(make bench does it)")
    return found


def child_env() -> dict[str, str]:
    """Our environment without proxy settings (every request must go to the loopback peer
    directly, for netkit and the reference tools alike) and without PYTHON* variables that
    change how the interpreter starts (PYTHONDONTWRITEBYTECODE, PYTHONPATH, ...)."""
    return {
        key: value for key, value in os.environ.items()
        if not key.lower().endswith("_proxy") and not key.startswith("PYTHON")
    }


def stop_cleanly_on_sigterm() -> None:
    """Make SIGTERM (and SIGINT even when inherited as ignored) unwind like Ctrl-C, so the
    ``with`` blocks stop nginx and blackbox_exporter instead of leaving them running."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


# --- output -------------------------------------------------------------------------------

def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values)


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def python_version(python: Path) -> str:
    proc = subprocess.run([str(python), "-c", "import sys; print(sys.version.split()[0])"],
                          capture_output=True, text=True, timeout=30)
    return proc.stdout.strip()


# --- the command-line shell both benchmarks share -------------------------------------------

def add_common_options(parser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print the results as one JSON object (progress goes to stderr)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached venv")


def bench_main(name: str, args, measure, print_report, stopped: str) -> int:
    """Run ``measure(log) -> result`` and report it; exit 0 when every bar passed.

    Failures to run (a missing tool, a peer that would not start) exit 2 with one line;
    Ctrl-C or SIGTERM exits 130 after the peers named in ``stopped`` are stopped.
    """
    import json

    from tests.peers._base import ServerStartError

    def log(text: str) -> None:
        print(text, file=sys.stderr if args.json else sys.stdout, flush=True)

    stop_cleanly_on_sigterm()
    try:
        result = measure(log)
    except (BenchError, ServerStartError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name}: interrupted; {stopped} stopped", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)
    return 0 if result["pass"] else 1
