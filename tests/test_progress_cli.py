"""The progress display from the outside: `netkit get` against nginx on a real
pseudo-terminal 40 and 200 columns wide (the screen it leaves, played by
tests.peers.terminal), Ctrl-C in the middle, `netkit ssh get` from a fleet, the same
commands in a pipe (no escape sequence, nothing on stderr), and rich never imported unless
a display is drawn (``python -X importtime``)."""

import subprocess
import sys

from tests.helpers import clean_env, ssh_auth
from tests.peers.nginx import BIG_SIZE
from tests.peers.terminal import run_on_terminal, screen

LONG = "a-file-with-a-name-longer-than-forty-columns.bin"


def _get(nginx, tmp_path, *more):
    return ("-m", "netkit", "get", nginx.url("/big"), nginx.url("/chunked"), "-o", tmp_path / LONG, "-o",
            tmp_path / "b.bin", "--limit-rate", "2M", *more)


def test_get_on_a_terminal_leaves_one_row_per_file_at_any_width(nginx, tmp_path):
    for columns in (40, 200):
        code, raw = run_on_terminal(*_get(nginx, tmp_path), columns=columns)
        assert code == 0 and (tmp_path / LONG).stat().st_size == BIG_SIZE
        rows = screen(raw, columns)
        # Two rows, redrawn in place: the screen ends with them, nothing torn above.
        assert len(rows) == 2 and all(len(row) <= columns for row in rows), rows
        big, small = rows
        assert big.endswith(" done") and " 100.0% " in big and "MiB/s" in big
        assert small.startswith("b.bin ") and small.endswith(" done")
        if columns == 40:  # the name cut, the figures that matter kept
            assert big.startswith("a-file-with-") and "…" in big
        else:
            assert big.startswith(LONG + " ━") and "1.0 MiB of 1.0 MiB" in big and "40 B of 40 B" in small
        assert "\x1b[?25h" in raw  # the cursor given back


def test_get_in_a_pipe_draws_nothing_and_never_imports_rich(nginx, tmp_path):
    args = ("-X", "importtime", *_get(nginx, tmp_path))
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=clean_env(), timeout=60,
                          check=False)
    assert proc.returncode == 0 and proc.stdout == "" and "\x1b" not in proc.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()]
    # (importlib.import_module, which picks the command's module, is not in the list)
    assert "netkit.transfer._api" in imported and "netkit.cli.progress" in imported
    assert not [name for name in imported if name.split(".")[0] == "rich"]
    assert all(line.startswith("import time:") for line in proc.stderr.splitlines())  # nothing else said
    # The same run on a terminal does import it: the test above could see it.
    code, raw = run_on_terminal(*args, columns=80)
    assert code == 0 and "| rich.progress" in raw


def test_check_never_imports_rich(nginx):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "netkit", "check", nginx.url("/")],
                          capture_output=True, text=True, env=clean_env(), timeout=60, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("HTTP OK"), proc.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()]
    assert "netkit.check.run" in imported and not [n for n in imported if n.split(".")[0] == "rich"]


def test_ctrl_c_leaves_the_terminal_clean(nginx, tmp_path):
    code, raw = run_on_terminal("-m", "netkit", "get", nginx.url("/big"), "-o", tmp_path / "big", "--limit-rate",
                                "100k", columns=80, answer=(b"ETA", b"\x03"))
    assert code == 130
    row, said = screen(raw, 80)[-2:]
    # The row as it was (not done), then the line that says so; the cursor shown again.
    # (the bar's first cell is a half "╸" below about 3%, a whole "━" past it)
    assert row.startswith(("big ━", "big ╸")) and "%" in row and not row.endswith("done") and said == "netkit get: interrupted"
    assert raw.rindex("\x1b[?25h") > raw.rindex("\x1b[?25l")
    assert not (tmp_path / "big").exists() and 0 < (tmp_path / "big.part").stat().st_size < BIG_SIZE


def test_ssh_get_counts_hosts_and_bytes_then_leaves_the_table(ssh_fleet, tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    for i in range(3):
        (remote / f"f{i}.bin").write_bytes(b"y" * 200_000)
    hosts = ssh_fleet.host_args()[:3]
    args = ("-m", "netkit", "ssh", "get", *ssh_auth(ssh_fleet), *hosts, remote, tmp_path / "local")
    code, raw = run_on_terminal(*args, columns=80)
    assert code == 0 and "3/3 hosts" in raw and "9 files" in raw and "━" in raw, raw
    shown = screen(raw, 80)  # the rows erased: the summary table alone
    assert shown[0].startswith("HOST ") and shown[-1] == "3 hosts: 3 ok, 0 failed" and len(shown) == 5
    proc = subprocess.run([sys.executable, *args, "--force"], capture_output=True, text=True, env=clean_env(),
                          timeout=60, check=False)
    assert proc.returncode == 0 and proc.stderr == "" and "\x1b" not in proc.stdout
