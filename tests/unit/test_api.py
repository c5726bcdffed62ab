"""The public surface is small and pinned."""

import subprocess
import sys

import netkit
import netkit.check


def test_exported_members():
    assert netkit.check.__all__ == ["CheckResult", "CheckSpec", "build_spec", "check_target", "load_checks",
                                    "run_checks"]
    for name in netkit.check.__all__:
        assert getattr(netkit.check, name) is not None
    assert netkit.__all__ == ["__version__", "check_target", "run_checks"]


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
