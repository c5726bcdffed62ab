"""The public API costs nothing at start-up: a check's fast path loads nothing heavy (the
names themselves are pinned in tests/test_exported_members.py)."""

import subprocess
import sys


def test_single_check_path_imports_no_heavy_modules():
    """The fast path of one tcp:// check must not load asyncio, ssl, re or socket.py."""
    code = (
        "import sys; from netkit.cli.check import main; import io; "
        "main(['tcp://127.0.0.1:1', '-t', '1'], out=io.StringIO()); "
        "print(' '.join(m for m in ('asyncio','ssl','re','socket','enum','dataclasses','typing','json') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""


def test_sweeps_fit_the_descriptor_limit():
    """A concurrency above the open-files limit is capped, never a pile of EMFILE failures."""
    code = (
        "import resource; resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200)); "
        "from netkit.check.run import fit_to_descriptors, FD_RESERVE; "
        "print(fit_to_descriptors(10000), fit_to_descriptors(50), 200 - FD_RESERVE)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == out[2] and out[1] == "50"


def test_soft_limit_is_raised_when_allowed():
    code = (
        "import resource; resource.setrlimit(resource.RLIMIT_NOFILE, (100, 4096)); "
        "from netkit.check.run import fit_to_descriptors; "
        "print(fit_to_descriptors(1000), resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1000", "1064"]
