"""Config defaults (~/.config/netkit/config.toml, NETKIT_* variables): real commands against
real peers, in a temp HOME, so the real home is never read (conftest sets NETKIT_CONFIG=""
for every other test; here it is unset)."""

import json
import os
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netkit.cli._config_file import MAX_CONFIG_FILE, REFUSED, plain_toml
from netkit.cli.config import command_flags
from netkit.cli.defaults import SAFE, SHARED
from tests.helpers import run_netkit, ssh
from tests.helpers import ssh_auth as auth


@pytest.fixture(autouse=True)
def home(config_home):
    """Every test here in a temp HOME with no config (conftest's config_home)."""
    return config_home


def write_config(home, text, name=".config/netkit/config.toml"):
    path = home / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def timeout_of(out):
    """The timeout a check ran with: the max of its time perfdata ('time=0.001s;;;0;MAX')."""
    perf = out.split("|", 1)[1].split()
    return float(next(p for p in perf if p.startswith("time=")).split(";")[4])


def test_get_user_agent_precedence_as_the_server_sees_it(home, nginx, closed_port):
    url = nginx.url("/echo")

    def agent(*args, env=None):
        code, out, err = run_netkit("get", url, "-", *args, env=env)
        assert code == 0, err
        return next(line for line in out.splitlines() if line.startswith("ua="))[3:]

    builtin = agent()
    assert builtin.startswith("netkit")
    write_config(home, '[defaults]\nuser-agent = "from-defaults"\n')
    assert agent() == "from-defaults"
    write_config(home, '[defaults]\nuser-agent = "from-defaults"\n[get]\nuser_agent = "from-get"\n')
    assert agent() == "from-get"
    assert agent(env={"NETKIT_USER_AGENT": "from-env"}) == "from-env"
    assert agent(env={"NETKIT_USER_AGENT": "from-env", "NETKIT_GET_USER_AGENT": "from-get-env"}) == "from-get-env"
    assert agent("--user-agent", "from-cli", env={"NETKIT_GET_USER_AGENT": "x"}) == "from-cli"
    assert agent("--no-config", env={"NETKIT_GET_USER_AGENT": "x"}) == builtin
    assert agent(env={"NETKIT_CONFIG": ""}) == builtin  # the file skipped...
    assert agent(env={"NETKIT_CONFIG": "", "NETKIT_USER_AGENT": "env"}) == "env"  # ...not the variables
    other = write_config(home, '[get]\nuser-agent = "named"\n', "elsewhere.toml")
    assert agent(env={"NETKIT_CONFIG": str(other)}) == "named"
    (home / "xdg" / "netkit").mkdir(parents=True)
    (home / "xdg" / "netkit" / "config.toml").write_text('[get]\nuser-agent = "xdg"\n')
    assert agent(env={"XDG_CONFIG_HOME": str(home / "xdg")}) == "xdg"
    assert agent(env={"XDG_CONFIG_HOME": "relative/xdg"}) == "from-get"  # ignored, as the XDG spec says
    # A configured user agent is for http:// URLs: an ftp:// download is no usage error for it.
    code, _, err = run_netkit("get", f"ftp://127.0.0.1:{closed_port.port}/file", "-o", home / "file")
    assert code == 1 and "refused" in err


def test_check_timeout_against_a_silent_peer_and_its_precedence(home, silent_tcp, tmp_path):
    target = f"tcp://{silent_tcp.host}:{silent_tcp.port}"

    def summary(*args, env=None):
        code, out, err = run_netkit("check", target, "--expect", "hello", *args, env=env)
        assert code == 2, out + err
        return out

    write_config(home, "[defaults]\ntimeout = 0.6\n")
    assert "timeout after 0.6 s" in summary()
    write_config(home, "[defaults]\ntimeout = 0.6\n[check]\ntimeout = 0.5\n")
    assert "timeout after 0.5 s" in summary()
    assert "timeout after 0.4 s" in summary(env={"NETKIT_TIMEOUT": "0.4"})
    assert "timeout after 0.3 s" in summary(env={"NETKIT_TIMEOUT": "0.4", "NETKIT_CHECK_TIMEOUT": "0.3"})
    assert "timeout after 0.2 s" in summary("-t", "0.2", env={"NETKIT_CHECK_TIMEOUT": "0.3"})
    # A checks file's [defaults] is above the config file, the command line above both.
    checks = tmp_path / "checks.toml"
    checks.write_text(f'[defaults]\ntimeout = 0.7\n[[check]]\nurl = "{target}"\nexpect = "hello"\n'
                      f'[[check]]\nurl = "{target}"\nexpect = "hello"\ntimeout = 0.8\n')
    code, out, _ = run_netkit("check", "--file", checks)
    assert code == 2 and "timeout after 0.7 s" in out.splitlines()[0] and "timeout after 0.8 s" in out.splitlines()[1]
    checks.write_text(f'[[check]]\nurl = "{target}"\nexpect = "hello"\n')
    code, out, _ = run_netkit("check", "--file", checks)
    assert code == 2 and "timeout after 0.5 s" in out


def test_check_takes_each_default_only_where_its_scheme_has_it(home, nginx):
    write_config(home, '[check]\nuser-agent = "cfg-agent"\ntimeout = 4\n')
    code, out, _ = run_netkit("check", f"tcp://127.0.0.1:{nginx.http_port}")  # user-agent is http's alone
    assert code == 0 and timeout_of(out) == 4
    code, out, _ = run_netkit("check", nginx.url("/echo"), "--body", "ua=cfg-agent")
    assert code == 0, out
    code, out, _ = run_netkit("check", nginx.url("/echo"), "--body", "ua=cfg-agent", "--no-config")
    assert code == 2 and timeout_of(out) == 10  # the built-in default


def test_ipv4_ipv6_from_the_config_yield_to_the_command_line(home, nginx):
    v4, v6 = f"tcp://127.0.0.1:{nginx.http_port}", f"tcp://[::1]:{nginx.http_port}"
    write_config(home, "[check]\nipv6 = true\n")
    code, out, _ = run_netkit("check", v4)
    assert code == 2 and "not an IPv6 address" in out
    code, out, err = run_netkit("check", v4, "-4")
    assert code == 0, out + err  # not "--ipv4 and --ipv6 exclude each other"
    write_config(home, "[check]\nipv6 = true\n[defaults]\nipv4 = true\n")  # [check] outranks [defaults]
    code, out, _ = run_netkit("check", v6)
    assert code == 0, out
    code, out, _ = run_netkit("check", v4)
    assert code == 2 and "not an IPv6 address" in out
    code, out, _ = run_netkit("check", v4, env={"NETKIT_IPV4": "yes"})  # and a variable outranks both
    assert code == 0, out
    write_config(home, "[check]\nipv4 = true\nipv6 = false\n")
    code, out, _ = run_netkit("check", v6, "--no-ipv6")  # turns off ipv6 only: ipv4 stays
    assert code == 2 and "not an IPv4 address" in out
    code, out, _ = run_netkit("check", v6, "--no-ipv4")
    assert code == 0, out


def test_ssh_known_hosts_policy_from_the_config(home, ssh_fleet, tmp_path):
    host = ssh_fleet.host_args()[0]
    write_config(home, "[ssh]\naccept-new = true\n")
    for turned_off, env in ((["--no-accept-new"], None), (["--no-config"], None), ([], {"NETKIT_SSH_ACCEPT_NEW": "0"})):
        known = tmp_path / f"known_{len(turned_off)}_{bool(env)}"
        code, out, err = ssh("run", *auth(ssh_fleet, known), *turned_off, host, "--", "echo in", env=env)
        assert code == 1 and "not in known_hosts" in err and not known.exists()
    known = tmp_path / "known_hosts"
    code, out, err = ssh("run", *auth(ssh_fleet, known), host, "--", "echo in")
    assert code == 0 and f"{host}: in" in out, err
    assert known.read_text().split()[0] == f"[{ssh_fleet.endpoints[0][0]}]:{ssh_fleet.endpoints[0][1]}"


def test_config_show_lists_every_value_with_its_origin(home):
    path = write_config(home, "[defaults]\ntimeout = 7\n[get]\nretry = 5\n[ssh]\naccept-new = true\n"
                              "connect-timeout = 4\n")
    code, out, err = run_netkit("config", "show", "get", "ssh", "scan", env={"NETKIT_GET_TIMEOUT": "3"})
    assert code == 0, err
    lines = out.splitlines()
    assert f"file:{path} [get]\tget.retry=5" in lines
    assert "env:NETKIT_GET_TIMEOUT\tget.timeout=3" in lines
    assert "built-in\tget.retry-delay=1" in lines
    assert f"file:{path} [ssh]\tssh.accept-new=true" in lines
    assert f"file:{path} [ssh]\tssh.connect-timeout=4" in lines
    assert not any(line.endswith(("ssh.timeout=7", "scan.timeout=7")) for line in lines)  # [defaults] is not theirs
    code, out, _ = run_netkit("config", "show", "put", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert {"command": "put", "option": "timeout", "value": "7", "origin": f"file:{path} [defaults]"} in rows
    code, out, _ = run_netkit("config", "path")
    assert (code, out) == (0, f"{path}\n")
    code, out, _ = run_netkit("config", "path", env={"NETKIT_CONFIG": ""})
    assert code == 0 and out.startswith("none")
    code, _, err = run_netkit("config", "show", "serve")
    assert code == 2 and err.count("\n") == 1 and "takes nothing from the config file" in err


# A value is checked by the command that takes it (netkit config show checks them all); a
# wrong name or TOML is wrong for every command.
BAD_FILES = [
    ("[get\nretry = 1\n", "not valid TOML: Expected ']'"),
    ('[get]\nretry = "x"\n', "[get] retry: expects a whole number (0 or more) (got 'x')"),
    ("[get]\nretry = true\n", "[get] retry: expects one value, e.g. retry = "),
    ("[get]\nretry = [1, 2]\n", "[get] retry: expects one value"),
    ('[get]\nquiet = "yes"\n', '[get] quiet: expects true or false (got "yes")'),
    ("[defaults]\ntimeout = -1\n", "[defaults] timeout: expects a number of seconds"),
    ("[defaults]\ntimeout = 100000\n", "[defaults] timeout: expects a number of seconds"),
    ("[get]\nretri = 1\n", "[get] retri: not an option the config file sets; did you mean 'retry'?"),
    ("[gett]\nretry = 1\n", "[gett] is not a table of the config file; did you mean 'get'?"),
    ("[serve]\nport = 1\n", "[serve] is not a table of the config file: netkit serve takes no defaults"),
    ("[get]\ninsecure = true\n", "[get] insecure: not from a config file: TLS verification is turned off only"),
    ('[get]\npassword-env = "PW"\n', "[get] password-env: not from a config file: credentials go only where"),
    ('[get]\noutput = "/etc/passwd"\n', "[get] output: not from a config file: output goes where the command"),
    ("[defaults]\nparallel = 2\n", "[defaults] parallel: means different things to different commands"),
    ("get = 1\n", "get = ...: expects a table"),
    ("[\x1b[31m]\n", None),  # not TOML: a control character; no ESC reaches the terminal
    ("[defaults]\ntimeout = " + "9" * 5000 + "\n", "not valid TOML: Exceeds the limit"),  # int()'s digit cap
]


@pytest.mark.parametrize(("text", "words"), BAD_FILES)
def test_a_bad_config_file_is_one_line_and_exit_2(home, text, words):
    path = write_config(home, text)
    code, out, err = run_netkit("get", "http://127.0.0.1:9/", "-o", home / "file")
    assert (code, out) == (2, "") and err.count("\n") == 1, err
    assert err.startswith(f"netkit get: {path}: ") and "\x1b" not in err
    words = words or "not valid TOML"
    assert words in err
    assert not (home / "file").exists()
    code, out, err = run_netkit("config", "show")
    assert (code, out) == (2, "") and err.count("\n") == 1 and words in err
    # check: the Nagios contract's UNKNOWN (3), one line, for what is wrong with it too;
    # --help still works.
    code, out, _ = run_netkit("check", "tcp://127.0.0.1:9")
    if "[get]" in text and "retry =" in text or "quiet" in text:
        assert code == 2 and "refused" in out
    else:
        assert code == 3 and out.count("\n") == 1 and out.startswith("NETKIT UNKNOWN - ")
    code, out, _ = run_netkit("check", "--help")
    assert code == 0 and out.startswith("usage: netkit check")


def test_unreadable_huge_directory_and_missing_named_files(home):
    config = home / ".config" / "netkit" / "config.toml"
    config.mkdir()
    cases = [({}, f"config file {str(config)!r} is a directory")]
    huge = write_config(home, "# " + "x" * MAX_CONFIG_FILE + "\n", "huge.toml")
    cases.append(({"NETKIT_CONFIG": str(huge)}, f"config file {str(huge)!r} is {MAX_CONFIG_FILE + 3} bytes, more "))
    cases.append(({"NETKIT_CONFIG": "/proc/self/mem"}, "cannot read config file '/proc/self/mem': "))
    missing = home / "missing.toml"
    cases.append(({"NETKIT_CONFIG": str(missing)}, f"config file {str(missing)!r} (NETKIT_CONFIG) does not exist"))
    latin = home / "latin.toml"
    latin.write_bytes(b'[get]\nuser-agent = "caf\xe9"\n')
    cases.append(({"NETKIT_CONFIG": str(latin)}, "is not UTF-8 text (byte 0xe9 on line 2)"))
    if os.geteuid() != 0:  # root reads a mode-000 file (/proc/self/mem above is unreadable to all)
        locked = write_config(home, "[get]\nretry = 1\n", "locked.toml")
        locked.chmod(0)
        cases.append(({"NETKIT_CONFIG": str(locked)}, "cannot read config file"))
    cases.append(({"NETKIT_CONFIG": "", "NETKIT_GET_RETRY": "x"}, "NETKIT_GET_RETRY: expects a whole number (0 or more) (got 'x')"))
    cases.append(({"NETKIT_CONFIG": "", "NETKIT_GET_QUIET": "maybe"}, "NETKIT_GET_QUIET: expects 1 or 0"))
    for env, words in cases:
        code, out, err = run_netkit("get", "http://127.0.0.1:9/", "-o", home / "file", env=env)
        assert (code, out) == (2, "") and err.count("\n") == 1 and words in err, (env, err)
    # --no-config runs with none of them.
    code, _, err = run_netkit("get", "http://127.0.0.1:9/", "-o", home / "file", "--no-config",
                              env={"NETKIT_GET_RETRY": "x"})
    assert code == 1 and "refused" in err


def test_a_config_file_never_sets_credentials_outputs_or_insecure():
    every = {name for names in SAFE.values() for name in names}
    assert not every & set(REFUSED)
    assert not every & {"user", "password-env", "passphrase-env", "identity", "header", "insecure", "output",
                        "output-dir", "outdir", "write", "graph", "xml", "grepable", "json", "delete", "force"}


def test_every_safe_option_is_an_option_of_its_command():
    for table, names in SAFE.items():
        flags = command_flags(table)
        options = {o.name: o for o in flags.values()}
        for name in names:
            assert name in options, (table, name)
            assert options[name].kind in ("one", "flag", "many")
    for name, tables in SHARED.items():
        for table in tables:
            assert name in SAFE[table], (name, table)
    # The monitor's alert hooks get NETKIT_TARGET, NETKIT_STATUS, ...: none is an option's variable.
    hook_vars = {"TARGET", "STATUS", "OLD_STATUS", "GROUP", "SUMMARY", "CHANNEL", "URL", "ALERT_ID", "ALERT_KIND",
                 "DEBUG", "CONFIG", "API_TOKEN", "DB_PASSWORD"}
    assert not hook_vars & {n.upper().replace("-", "_") for n in SHARED}


# plain_toml: the fast reader must give what tomllib gives, or hand the text to tomllib.

_key = st.text("abcXY_-09", min_size=1, max_size=6)
_scalar = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.floats(0, 1000, allow_nan=False).map(lambda f: f"{f:.3f}"),
    st.sampled_from(["true", "false"]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\\x7f'), max_size=8).filter(
        lambda s: all(c >= " " or c == "\t" for c in s)).map(lambda s: f'"{s}"'),
    st.text("ab #\"=[],", max_size=5).map(lambda s: f"'{s}'"),
)
_value = st.one_of(_scalar, st.lists(_scalar, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"))
_line = st.one_of(
    st.tuples(_key, _value, st.sampled_from(["", " # note", "\t#"])).map(lambda t: f"{t[0]} = {t[1]}{t[2]}"),
    _key.map(lambda k: f"[{k}]"),
    st.sampled_from(["", "# comment", "  ", "[get] # x"]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_line, max_size=8), st.sampled_from(["\n", "\r\n"]))
def test_plain_toml_agrees_with_tomllib_on_config_shaped_files(lines, newline):
    text = newline.join(lines)
    got = plain_toml(text)
    try:
        expected = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assert got is None  # tomllib then says what is wrong
        return
    assert got is None or (got == expected and repr(got) == repr(expected))


def test_the_readme_example_is_a_good_config(home):
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme[readme.index("## Defaults you repeat"):]
    example = section[section.index("```toml\n") + 8:section.index("```\n", section.index("```toml\n") + 8)]
    assert plain_toml(example) == tomllib.loads(example)
    write_config(home, example)
    code, out, err = run_netkit("config", "show")
    assert code == 0 and "get.retry=5" in out and "ssh.accept-new=true" in out, err


def test_plain_toml_reads_a_usual_config_without_tomllib():
    text = ('# netkit defaults\n[defaults]\ntimeout = 10\nretry-delay = 0.5  # seconds\n\n[get]\n'
            'user-agent = "netkit (ops@example.com)"\nproxy = \'http://proxy:3128\'\ncompressed = true\n'
            '[ssh]\naccept-new = true\nknown-hosts = ["/etc/ssh/ssh_known_hosts", "~/.ssh/known_hosts"]\n')
    assert plain_toml(text) == tomllib.loads(text)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from([*"ab-_=[]\"'#., \t\r\n0129+e\\\x00\x7fé", "true", "'''", '"""']),
                max_size=16).map("".join))
def test_plain_toml_never_reads_what_tomllib_would_not(text):
    got = plain_toml(text)
    if got is not None:
        assert repr(got) == repr(tomllib.loads(text))


def test_no_config_and_no_flag_on_the_command_line_and_in_the_docs(home):
    code, _, err = run_netkit("get", "--no-retry", "http://127.0.0.1:9/")  # --no- turns off flags only
    assert code == 2 and err.count("\n") == 1 and "unknown option --no-retry" in err
    code, out, _ = run_netkit("completion", "bash")
    assert code == 0 and "--no-config" in out
    code, out, _ = run_netkit("--help")
    assert code == 0 and "--no-config" in out and "config.toml" in out
    from netkit.cli.manpage import index

    assert "config.toml" in index() and "NETKIT_CONFIG" in index()


def test_the_monitor_reads_its_own_file_not_the_users_defaults(home, nginx, tmp_path):
    write_config(home, "[check]\ntimeout = 4\n[defaults]\ntimeout = 4\n")
    targets = tmp_path / "monitor.toml"
    targets.write_text(f'[[target]]\nurl = "tcp://127.0.0.1:{nginx.http_port}"\n')
    code, out, err = run_netkit("monitor", "run", targets, "--once", cwd=tmp_path)
    assert code == 0 and timeout_of(out) == 10, out + err  # the check's built-in timeout
    code, out, _ = run_netkit("check", f"tcp://127.0.0.1:{nginx.http_port}")
    assert code == 0 and timeout_of(out) == 4


def test_every_command_takes_no_config(home):
    """parse_argv takes --no-config for every command and subcommand, as its help says."""
    from netkit.cli.completion import tables

    write_config(home, "[get\n")  # a broken file: neither --help nor --no-config reads it
    for command, (_, contexts) in tables().items():
        for sub in contexts:
            argv = [command, *([sub] if sub else []), "--no-config", "--help"]
            code, out, err = run_netkit(*argv)
            assert code == 0 and out and not err, (argv, err)
