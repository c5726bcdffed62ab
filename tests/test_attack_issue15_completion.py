"""The red team's attacks on issue 15's shell completion (netkit.cli._complete_*): host names
come from files others may write or feed (known_hosts, /etc/ssh/ssh_known_hosts, ~/.ssh/config,
/etc/hosts, which DHCP and container tools fill), and a TAB must never run them or break the
shell. bash's ``compgen -W`` expands every word it is given ($(...), backticks, braces,
tildes): a known_hosts name ``$(touch>FILE)`` ran at the TAB. Each shell is the real one."""

import os
import subprocess

import pytest

from tests.test_completion import SHELL_TIMEOUT, fish, scripts, zsh  # noqa: F401 (scripts: a fixture)

# Characters no host name has and a shell gives meaning to.
SHELL_SPECIAL = set("$`;|&<>(){}[]*?!~'\"\\ \t\n#=")


def hostile_home(tmp_path):
    """A HOME whose known_hosts, ssh config and HOSTFILE (bash's /etc/hosts) hold names
    that run a command when expanded; each leaves a file named pwned-N behind."""
    ssh = tmp_path / ".ssh"
    ssh.mkdir()
    mark = tmp_path / "pwned"
    names = [f"$(touch>{mark}-1)", f"web`touch>{mark}-2`", f"${{IFS}}$(touch>{mark}-3)", "{a,b}host",
             "x;touch>oops", "-oProxyCommand=evil", "glob*", "good1.example.org"]
    (ssh / "known_hosts").write_text("".join(f"{n} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\n" for n in names)
                                     + "".join(f"bulk{i}.example.org ssh-ed25519 AAAA\n" for i in range(5000)))
    (ssh / "config").write_text(f"Host $(touch>{mark}-4) good2.example.org\n  User root\n")
    (tmp_path / "hosts").write_text(f"192.0.2.7 $(touch>{mark}-5) good3.example.org\n")
    return tmp_path


def marks(home):
    return sorted(p.name for p in home.iterdir() if p.name.startswith("pwned"))


def bash_complete(scripts, home, *words):  # noqa: F811
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "HOSTFILE": str(home / "hosts")}
    program = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _netkit; '
               'printf "%s\\0" "${COMPREPLY[@]}"')
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", program, "bash", str(scripts["bash"]), *words],
                          capture_output=True, text=True, env=env, cwd=home, timeout=SHELL_TIMEOUT, check=False)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    return [w for w in proc.stdout.split("\0") if w]


@pytest.mark.parametrize("words", [("netkit", "ssh", "run", ""), ("netkit", "ssh", "run", "root@"),
                                   ("netkit", "ssh", "run", "good")])
def test_bash_host_completion_runs_nothing_from_known_hosts(scripts, tmp_path, words):  # noqa: F811
    home = hostile_home(tmp_path)
    offered = bash_complete(scripts, home, *words)
    assert marks(home) == [], "a host name ran as a command at the TAB"
    hosts = [w.partition("@")[2] if "@" in w else w for w in offered]
    assert not [h for h in hosts if SHELL_SPECIAL & set(h) or h.startswith("-")], offered
    good = {"good1.example.org", "good2.example.org", "good3.example.org"}
    assert good <= set(hosts) and all(w.startswith(words[-1]) for w in offered)
    if words[-1] == "":
        assert "bulk4999.example.org" in hosts


def test_zsh_host_completion_runs_nothing_from_known_hosts(scripts, tmp_path):  # noqa: F811
    home = hostile_home(tmp_path)
    offered = zsh(scripts, "netkit ssh run ", home)
    assert marks(home) == [], "a host name ran as a command at the TAB"
    assert "good1.example.org" in offered


def test_fish_host_completion_runs_nothing_from_known_hosts(scripts, tmp_path):  # noqa: F811
    home = hostile_home(tmp_path)
    offered = fish(scripts, "netkit ssh run ", home)
    assert marks(home) == [], "a host name ran as a command at the TAB"
    assert "good1.example.org" in offered
