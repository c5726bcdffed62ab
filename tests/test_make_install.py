"""``make install DESTDIR=... PREFIX=/usr``: the command, the completions and the man pages land
where bash-completion, zsh's compinit, fish and man look for them, and each shell loads them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.executable).parent.parent  # the venv running the tests: never rebuilt here
TIMEOUT = 120


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    dest = tmp_path_factory.mktemp("dest")
    proc = subprocess.run(["make", "-s", "-C", str(ROOT), "install", f"VENV={VENV}", "-o", f"{VENV}/.installed",
                           f"DESTDIR={dest}", "PREFIX=/usr"], capture_output=True, text=True, timeout=TIMEOUT,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dest


def shell_env(staged, home):
    return {"PATH": f"{staged}/usr/bin:{os.environ['PATH']}", "HOME": str(home),
            "XDG_DATA_DIRS": f"{staged}/usr/share", "PYTHONPATH": os.environ.get("PYTHONPATH", "")}


def run(argv, env, home):
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=home, timeout=TIMEOUT, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_files_are_where_the_shells_and_man_look(staged):
    assert (staged / "usr/bin/netkit").resolve() == (VENV / "bin/netkit").resolve()
    assert (staged / "usr/share/bash-completion/completions/netkit").read_text().startswith("# bash completion")
    assert (staged / "usr/share/zsh/site-functions/_netkit").read_text().startswith("#compdef netkit\n")
    assert (staged / "usr/share/fish/vendor_completions.d/netkit.fish").read_text().startswith("# fish completion")
    assert (staged / "usr/share/man/man1/netkit-check.1").read_text().startswith(".TH NETKIT\\-CHECK 1")
    assert not list(staged.rglob("*.tmp"))


def test_bash_completion_loads_it(staged, tmp_path):
    program = ("source /usr/share/bash-completion/bash_completion; __load_completion netkit; complete -p netkit; "
               "COMP_WORDS=(netkit monitor r); COMP_CWORD=2; _netkit; echo \"${COMPREPLY[*]}\"")
    out = run(["bash", "--norc", "-c", program], shell_env(staged, tmp_path), tmp_path)
    assert out == "complete -F _netkit netkit\nrun\n"


def test_zsh_compinit_finds_it(staged, tmp_path):
    program = (f"fpath=({staged}/usr/share/zsh/site-functions $fpath); autoload -U compinit; compinit -u -D; "
               "print -r -- $_comps[netkit]")
    assert run(["zsh", "-f", "-c", program], shell_env(staged, tmp_path), tmp_path) == "_netkit\n"


def test_fish_finds_it(staged, tmp_path):
    out = run(["fish", "-c", "complete -C'netkit monitor r'"], shell_env(staged, tmp_path), tmp_path)
    assert out.split("\t")[0] == "run"


def test_man_finds_the_pages(staged, tmp_path):
    env = shell_env(staged, tmp_path) | {"MANPATH": f"{staged}/usr/share/man"}
    assert run(["man", "-w", "netkit-ssh"], env, tmp_path) == f"{staged}/usr/share/man/man1/netkit-ssh.1\n"
    assert "netkit-ssh(1)" in run(["man", "netkit"], env | {"MANPAGER": "cat"}, tmp_path)
