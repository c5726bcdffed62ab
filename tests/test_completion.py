"""``netkit completion bash|zsh|fish``: the scripts loaded into the real shells, asked for
completions as a TAB asks them, and compared with the option tables they come from."""

import os
import subprocess
from pathlib import Path

import pytest

from netkit.cli.completion import tables
from tests.helpers import run_netkit

CAPTURE = Path(__file__).parent / "completion_capture.zsh"

SHELL_TIMEOUT = 60


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    """{shell: path of the script `netkit completion SHELL` printed}."""
    where = tmp_path_factory.mktemp("completion")
    paths = {}
    for shell in ("bash", "zsh", "fish"):
        code, out, err = run_netkit("completion", shell)
        assert code == 0, err
        paths[shell] = where / ("_netkit" if shell == "zsh" else f"netkit.{shell}")  # zsh: by its name
        paths[shell].write_text(out)
    return paths


@pytest.fixture
def home(tmp_path):
    """A HOME whose known_hosts and ssh config name a few hosts (one hashed, one with a port)."""
    ssh = tmp_path / ".ssh"
    ssh.mkdir()
    (ssh / "known_hosts").write_text(
        "web1.example.org,192.0.2.10 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\n"
        "[db1.example.org]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB\n"
        "|1|c2VjcmV0c2VjcmV0c2VjcmV0c2U=|aGFzaGhhc2hoYXNoaGFzaGhhc2g= ssh-ed25519 AAAAC3\n"
        "@cert-authority *.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC\n")
    (ssh / "config").write_text("Host bastion\n  HostName 192.0.2.1\nHost *.internal\n  User root\n")
    (tmp_path / "checks.toml").write_text("")
    (tmp_path / "conf.d").mkdir()
    return tmp_path


def bash(scripts, *words, home=None):
    """The completions bash offers for the last of ``words`` (the word being completed)."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home or "/nonexistent")}
    program = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _netkit; '
               'printf "%s\\n" "${COMPREPLY[@]}"')
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", program, "bash", str(scripts["bash"]), *words],
                          capture_output=True, text=True, env=env, cwd=home, timeout=SHELL_TIMEOUT, check=False)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


def spellings(options):
    return {f"--{o.name}" for o in options} | {f"-{o.short}" for o in options if o.short}


def test_bash_commands(scripts):
    assert bash(scripts, "netkit", "ch") == ["check"]
    assert bash(scripts, "netkit", "m") == ["mirror", "monitor", "mail"]
    assert set(bash(scripts, "netkit", "")) >= {"check", "scan", "ssh", "monitor", "completion", "help"}
    assert bash(scripts, "netkit", "help", "pa") == ["packets"]
    assert bash(scripts, "netkit", "--v") == ["--version"]


def test_bash_offers_every_option_of_every_table(scripts):
    for command, (_, contexts) in tables().items():
        for sub, context in contexts.items():
            words = ["netkit", command, sub, "-"] if sub else ["netkit", command, "-"]
            assert set(bash(scripts, *words)) == spellings(context.options), context.name


def test_bash_options_and_their_values(scripts, home):
    assert bash(scripts, "netkit", "check", "--ref") == ["--refuse"]
    assert bash(scripts, "netkit", "check", "--refuse", "") == ["ok", "warn", "crit"]
    assert "MX" in bash(scripts, "netkit", "check", "dns://", "--type", "")
    assert bash(scripts, "netkit", "packets", "dns", "-t", "M") == ["MX"]
    assert bash(scripts, "netkit", "rpc", "serve", "-p", "") == ["xmlrpc", "jsonrpc", "pyro", "pb"]
    assert bash(scripts, "netkit", "rpc", "call", "--protocol", "=", "j") == ["jsonrpc"]  # --protocol=j
    assert bash(scripts, "netkit", "mail", "send", "--quit-after", "rc") == ["rcpt"]
    assert bash(scripts, "netkit", "sockopt", "list", "--level", "") == ["socket", "tcp", "ip", "ipv6"]
    assert bash(scripts, "netkit", "serve", "echo", "--workers", "") == ["auto"]
    # a flag takes no value: after it come options or arguments again
    assert bash(scripts, "netkit", "check", "--json", "ht") == ["http://", "https://"]


def test_bash_check_urls_are_schemes(scripts):
    assert bash(scripts, "netkit", "check", "tc") == ["tcp://"]
    assert bash(scripts, "netkit", "check", "-v", "--timeout", "3", "im") == ["imap://", "imaps://"]


def test_bash_subcommands(scripts):
    assert bash(scripts, "netkit", "monitor", "") == ["run", "check", "discover", "status", "passwd"]
    assert bash(scripts, "netkit", "monitor", "run", "--l") == ["--location", "--listen"]
    assert bash(scripts, "netkit", "ssh", "") == ["run", "get", "put"]
    assert bash(scripts, "netkit", "mail", "f") == ["fetch"]
    assert bash(scripts, "netkit", "packets", "") == ["dns", "arp", "trace", "sniff"]
    assert bash(scripts, "netkit", "rpc", "") == ["serve", "call"]
    assert bash(scripts, "netkit", "serve", "") == ["echo", "reverse", "time", "discard", "chargen"]
    assert bash(scripts, "netkit", "url", "un") == ["unquote"]
    assert bash(scripts, "netkit", "completion", "") == ["bash", "zsh", "fish"]
    # options that take a value are skipped while looking for the subcommand
    assert bash(scripts, "netkit", "ssh", "run", "-l", "root", "--t") == ["--timeout", "--tty"]
    # fetch has options send has not
    assert "--mbox" in bash(scripts, "netkit", "mail", "fetch", "--")
    assert "--mbox" not in bash(scripts, "netkit", "mail", "send", "--")


def test_bash_files_and_hosts(scripts, home):
    assert bash(scripts, "netkit", "check", "-f", "che", home=home) == ["checks.toml"]
    assert bash(scripts, "netkit", "check", "--file=che", home=home) == ["--file=checks.toml"]  # not split
    assert bash(scripts, "netkit", "check", "--file", "=", "che", home=home) == ["checks.toml"]
    assert bash(scripts, "netkit", "get", "--output-dir", "", home=home) == [".ssh", "conf.d"]  # no files
    hosts = bash(scripts, "netkit", "ssh", "run", "", home=home)
    assert {"web1.example.org", "192.0.2.10", "db1.example.org", "bastion"} <= set(hosts)
    assert not [h for h in hosts if "|" in h or "*" in h or "[" in h]
    assert bash(scripts, "netkit", "ssh", "run", "root@we", home=home) == ["root@web1.example.org"]
    assert bash(scripts, "netkit", "scan", "db", home=home) == ["db1.example.org"]
    assert "bastion" in bash(scripts, "netkit", "ssh", "get", "-J", "", home=home)


def test_completion_usage_errors():
    code, out, err = run_netkit("completion", "tcsh")
    assert code == 2 and out == ""
    assert err.startswith("netkit completion: unknown shell or argument 'tcsh'") and "bash, zsh, fish" in err
    code, _, err = run_netkit("completion")
    assert code == 2 and "netkit completion bash" in err
    code, out, _ = run_netkit("completion", "--help")
    assert code == 0 and out.startswith("usage: netkit completion bash|zsh|fish")


def zsh(scripts, line, home):
    """The completions zsh offers at the end of ``line`` (typed, then TAB), in a set."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "TERM": "dumb"}
    proc = subprocess.run(["zsh", "-f", str(CAPTURE), str(scripts["zsh"].parent), line], capture_output=True,
                          text=True, env=env, cwd=home, timeout=SHELL_TIMEOUT, check=False)
    assert proc.returncode == 0, proc.stderr
    return {word.strip() for word in proc.stdout.splitlines() if word.strip()}


def test_zsh_syntax(scripts):
    proc = subprocess.run(["zsh", "-n", str(scripts["zsh"])], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    assert scripts["zsh"].read_text().startswith("#compdef netkit\n")


def test_zsh_completes(scripts, home):
    assert zsh(scripts, "netkit ch", home) == {"check"}
    assert {"check", "scan", "monitor", "completion", "help"} <= zsh(scripts, "netkit ", home)
    assert zsh(scripts, "netkit check tc", home) == {"tcp://"}
    assert zsh(scripts, "netkit check --refuse ", home) == {"ok", "warn", "crit"}
    assert zsh(scripts, "netkit monitor ", home) == {"run", "check", "discover", "status", "passwd"}
    assert zsh(scripts, "netkit monitor run --l", home) == {"--location", "--listen"}
    assert zsh(scripts, "netkit rpc call --protocol=", home) == {"--protocol=xmlrpc", "--protocol=jsonrpc"}
    assert zsh(scripts, "netkit ssh run -l root --t", home) == {"--timeout", "--tty"}
    assert zsh(scripts, "netkit ssh run root@we", home) == {"root@web1.example.org"}
    assert zsh(scripts, "netkit check -f che", home) == {"checks.toml"}
    rpc = zsh(scripts, "netkit rpc serve -", home)
    assert {"--protocol", "-p", "--tls-cert", "--help"} <= rpc and "--list" not in rpc


def fish(scripts, line, home):
    """The completions fish offers for ``line`` (complete -C), without their descriptions."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    program = f'source {scripts["fish"]}; complete -C {line!r}'
    proc = subprocess.run(["fish", "--no-config", "-c", program], capture_output=True, text=True, env=env,
                          cwd=home, timeout=SHELL_TIMEOUT, check=False)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    return {word.split("\t")[0] for word in proc.stdout.splitlines()}


def test_fish_syntax(scripts):
    proc = subprocess.run(["fish", "--no-execute", str(scripts["fish"])], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr


def test_fish_completes(scripts, home):
    assert fish(scripts, "netkit ch", home) == {"check"}
    assert {"check", "scan", "monitor", "completion", "help"} <= fish(scripts, "netkit ", home)
    assert fish(scripts, "netkit check tc", home) == {"tcp://"}
    assert fish(scripts, "netkit check --refuse ", home) == {"ok", "warn", "crit"}
    assert fish(scripts, "netkit check --json --type M", home) == {"MX"}
    assert fish(scripts, "netkit monitor ", home) == {"run", "check", "discover", "status", "passwd"}
    assert fish(scripts, "netkit monitor run --l", home) == {"--location", "--listen"}
    assert fish(scripts, "netkit rpc call --protocol=", home) == {"--protocol=xmlrpc", "--protocol=jsonrpc"}
    assert fish(scripts, "netkit ssh run -l root --t", home) == {"--timeout", "--tty"}
    assert fish(scripts, "netkit ssh run root@we", home) == {"root@web1.example.org"}
    assert fish(scripts, "netkit check -f che", home) == {"checks.toml"}
    assert fish(scripts, "netkit help pa", home) == {"packets"}
    for command, (_, contexts) in tables().items():  # every option of a few tables, long and short
        if command in ("get", "mail", "packets"):
            for sub, context in contexts.items():
                assert fish(scripts, f"netkit {command} {sub} -".replace("  ", " "), home) >= spellings(
                    [o for o in context.options if o.short]) | {f"--{o.name}" for o in context.options}
