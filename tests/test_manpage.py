"""Man pages from the option tables (``python -m netkit.cli.manpage DIR``): every page renders
with groff and man with no warning, and names every option of its command's tables."""

import os
import subprocess
import sys

import pytest

from netkit.cli.completion import tables
from netkit.cli.main import COMMANDS

TIMEOUT = 60


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    where = tmp_path_factory.mktemp("man1")
    proc = subprocess.run([sys.executable, "-m", "netkit.cli.manpage", str(where)], capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    return where


def render(path) -> str:
    """The page as man shows it (through preconv, tbl and groff), 200 columns wide."""
    env = {"PATH": os.environ["PATH"], "MANWIDTH": "200", "LANG": "C.UTF-8"}
    proc = subprocess.run(["man", "-l", str(path)], capture_output=True, text=True, env=env,
                          timeout=TIMEOUT, check=False)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    return proc.stdout


def test_a_page_per_command(pages):
    assert sorted(p.name for p in pages.iterdir()) == sorted(
        ["netkit.1"] + [f"netkit-{command}.1" for command in COMMANDS])


@pytest.mark.parametrize("name", ["netkit", *(f"netkit-{command}" for command in COMMANDS)])
def test_groff_renders_without_warnings(pages, name):
    proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(pages / f"{name}.1")], capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert (pages / f"{name}.1").read_bytes().isascii()  # non-ASCII as \[uXXXX]: any groff reads it


def test_every_option_of_every_table_is_on_its_page(pages):
    for command, (what, contexts) in tables().items():
        text = render(pages / f"netkit-{command}.1")
        assert f"netkit-{command} - {what}" in " ".join(text.split())
        for sub, context in contexts.items():
            for option in context.options:
                assert f"--{option.name}" in text, (context.name, option.name)
                if option.short:
                    assert f"-{option.short}, --{option.name}" in text, (context.name, option.name)
            if sub:
                assert sub in text, context.name


def test_pages_have_synopsis_examples_and_exit_status(pages):
    dns = render(pages / "netkit-dns.1")
    for heading in ("SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        assert f"\n{heading}\n" in dns
    assert "netkit dns -x IP [--server HOST[:PORT]]" in dns
    assert "netkit dns example.com MX TXT --server 1.1.1.1" in dns
    assert "-h, --help" in dns and "      --help   " not in dns  # the options come from the table, once
    url = render(pages / "netkit-url.1")
    assert "button=Привет" in url  # non-ASCII survives the escapes
    check = render(pages / "netkit-check.1")
    assert "-t, --timeout SECONDS" in check and "(default 10)" in check
    assert "\n   TLS (tls://" in check  # check's option groups are subsections
    index = render(pages / "netkit.1")
    assert all(f"netkit-{command}(1)" in index for command in COMMANDS)


def test_usage_errors(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "netkit.cli.manpage"], capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("usage: python -m netkit.cli.manpage DIR")
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = subprocess.run([sys.executable, "-m", "netkit.cli.manpage", str(blocker / "man1")], capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"netkit.cli.manpage: {blocker / 'man1'}: ")
