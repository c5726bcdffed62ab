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
