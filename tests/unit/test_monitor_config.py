"""The monitor config: precedence, resolved records, and every mistake as one line."""

import pytest

from netkit.core.errors import UsageError
from netkit.monitor._config import MAX_TARGETS, load_config, parse_listen

ENV = {"HOME": "/home/op", "WEB_PASSWORD": "hunter2", "DB_PASSWORD": "p@ss/word"}


def write(tmp_path, text, name="monitor.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def load(tmp_path, text, env=ENV):
    return load_config(write(tmp_path, text), env=env)


def test_precedence_target_over_group_over_defaults(tmp_path):
    config = load(tmp_path, """
[defaults]
interval = "2m"
failure-threshold = 4
timeout = 5
status = "200"
labels = { env = "prod", team = "ops" }

[group.web]
interval = "30s"
success-threshold = 3
labels = { team = "web" }

[[target]]
name = "shop"
url = "https://shop.example/"
group = "web"
failure-threshold = 1
labels = { tier = "1" }

[[target]]
url = "tcp://db.example:5432"
""")
    shop, db = config.targets
    assert (shop.id, shop.info.group, shop.info.interval, shop.timeout) == ("shop", "web", 30.0, 5.0)
    assert (shop.policy.failure_threshold, shop.policy.success_threshold) == (1, 3)
    assert shop.info.labels == (("env", "prod"), ("team", "web"), ("tier", "1"))
    assert 200 in shop.spec.get("status") and 301 not in shop.spec.get("status")
    assert shop.spec.get("timeout") == 5.0
    assert (db.id, db.info.interval, db.policy.failure_threshold, db.policy.success_threshold) == \
        ("tcp://db.example:5432", 120.0, 4, 2)
    assert "status" not in db.spec.opts   # a default the scheme does not take is skipped, as in check --file
    assert db.info.labels == (("env", "prod"), ("team", "ops"))
    assert [(j.id, j.interval, j.timeout) for j in config.jobs()] == [("shop", 30.0, 5.0),
                                                                       ("tcp://db.example:5432", 120.0, 5.0)]
    assert config.by_id["shop"] is shop and config.groups == ("web",)


def test_defaults_of_an_empty_config(tmp_path):
    config = load(tmp_path, "", env={"HOME": "/home/op"})
    s = config.settings
    assert config.targets == () and config.channels == () and config.modules == {}
    assert s.state_dir == "/home/op/.local/state/netkit"
    assert s.store == "sqlite:///home/op/.local/state/netkit/monitor.db"
    assert (s.listen, s.location, s.max_in_flight) == ("127.0.0.1:9115", "default", 500)
    assert (s.keep_raw, s.keep_rollups, s.api_token) == (14 * 86400, 400 * 86400, None)
    systemd = load(tmp_path, "", env={"STATE_DIRECTORY": "/var/lib/netkit:/var/lib/other",
                                      "NETKIT_API_TOKEN": "t0k"}).settings
    assert systemd.store == "sqlite:///var/lib/netkit/monitor.db" and systemd.api_token == "t0k"


def test_timeout_defaults_to_the_check_default_or_the_interval(tmp_path):
    config = load(tmp_path, """
[[target]]
url = "tcp://a:1"
[[target]]
url = "tcp://b:1"
interval = 4
""")
    assert [t.timeout for t in config.targets] == [10.0, 4.0]
    assert [t.spec.get("timeout") for t in config.targets] == [10.0, 4.0]


def test_passwords_stay_out_of_target_info_and_settings_repr(tmp_path):
    config = load(tmp_path, """
[monitor]
store = "postgresql://monitor@db.example:5432/netkit"
store-password-env = "DB_PASSWORD"

[[target]]
url = "https://admin:s3cret@shop.example/"

[[target]]
name = "auth"
url = "https://shop.example/auth/"
user = "admin"
password-env = "WEB_PASSWORD"
""")
    first, second = config.targets
    assert first.spec.password == "s3cret" and second.spec.password == "hunter2"
    assert "s3cret" not in first.id and "s3cret" not in first.info.url
    assert first.info.url == "https://admin:********@shop.example/"
    assert "hunter2" not in repr(second.info)
    assert config.settings.store == "postgresql://monitor:p%40ss%2Fword@db.example:5432/netkit"
    assert "p%40ss" not in repr(config.settings) and "p%40ss" not in config.settings.store_masked


def test_alerts_maintenance_and_modules(tmp_path):
    config = load(tmp_path, """
[group.web]

[[target]]
name = "a"
url = "tcp://a:1"
group = "web"

[[target]]
name = "b"
url = "tcp://b:1"
alerts = ["pager"]

[[target]]
name = "c"
url = "tcp://c:1"
alerts = []

[[alert]]
name = "ops"
type = "webhook"
url = "http://hooks.example/"

[[alert]]
name = "pager"
type = "webhook"
url = "http://pager.example/"

[[maintenance]]
groups = ["web"]
targets = ["b"]
start = 2026-12-24T08:00:00+01:00
end = 2026-12-24T10:00:00+01:00

[module.dns_www]
prober = "dns"
query-name = "www.netkit.test"
type = "A"
""")
    a, b, c = config.targets
    assert [(ch.name, ch.url) for ch in config.channels] == [("ops", "http://hooks.example/"),
                                                              ("pager", "http://pager.example/")]
    assert (a.channels, b.channels, c.channels) == (("ops", "pager"), ("pager",), ())
    assert set(config.maintenance) == {"a", "b"}
    from datetime import datetime

    at = datetime.fromisoformat("2026-12-24T07:30:00+00:00").timestamp()   # inside the window
    assert config.maintenance["a"].active(at) and not config.maintenance["b"].active(at - 7200)
    spec = config.modules["dns_www"].spec("127.0.0.1:5353")
    assert spec.target.scheme == "dns" and spec.target.port == 5353 and spec.get("type") == "A"


@pytest.mark.parametrize(
    "text, words",
    [
        ("[[target]]\nurl = 'tcp://h:1'\ntimout = 3\n", "target 1: unknown option 'timout'; did you mean 'timeout'?"),
        ("[[target]]\nurl = 'tcp://h:1'\nintervl = 3\n", "unknown option 'intervl'; did you mean 'interval'?"),
        ("[[target]]\nname = 'x'\n", "target 1 (x) has no url; e.g. url = "),
        ("[[target]]\nurl = 'tcp://h:99999'\n", "port 99999"),
        ("[[target]]\nurl = 'http://h/'\nsend = 'x'\n", "send does not apply to http://"),
        ("[[target]]\nurl = 'tcp://h:1'\ninterval = 'soon'\n",
         "interval expects seconds or a number with s, m, h or d, from 1s to 7d (got 'soon'); e.g. interval = \"30s\""),
        ("[[target]]\nurl = 'tcp://h:1'\ninterval = 0.5\n", "interval expects seconds"),
        ("[[target]]\nurl = 'tcp://h:1'\ninterval = 5\ntimeout = 9\n",
         "timeout (9 s) is longer than the interval (5 s)"),
        ("[defaults]\ntimeout = 30\n[[target]]\nurl = 'tcp://h:1'\ninterval = 10\n", "longer than the interval"),
        ("[[target]]\nname = 'w'\nurl = 'tcp://h:1'\n[[target]]\nname = 'w'\nurl = 'tcp://g:1'\n",
         "target 2 (w): the id 'w' is also target 1's"),
        ("[[target]]\nurl = 'tcp://h:1'\n[[target]]\nurl = 'tcp://h:1'\n", "is also target 1's"),
        ("[[target]]\nurl = 'tcp://h:1'\nlocations = ['a', 'b']\nquorum = 3\n",
         "quorum 3 is more than its 2 locations (a, b); e.g. quorum = 2"),
        ("[[target]]\nurl = 'tcp://h:1'\ngroup = 'wbe'\n[group.web]\n",
         "group 'wbe' is not defined; did you mean 'web'?; add a [group.wbe] table"),
        ("[[target]]\nurl = 'tcp://h:1'\nalerts = ['opz']\n"
         "[[alert]]\nname = 'ops'\ntype = 'slack'\nurl = 'http://h/'\n",
         "alert channel 'opz' is not defined; did you mean 'ops'?"),
        ("[[target]]\nurl = 'tcp://h:1'\nfailure-threshold = 0\n", "failure-threshold expects a whole number from 1"),
        ("[[target]]\nurl = 'tcp://h:1'\nlow-flap-threshold = 40\n",
         "low-flap-threshold (40) must be below high-flap-threshold (30)"),
        ("[[target]]\nurl = 'tcp://h:1'\nlabels = { 'bad-name' = 'x' }\n", "labels expects label names as Prometheus"),
        ("[[target]]\nurl = 'tcp://h:1'\nlabels = { env = \"a\\u001b[31m\" }\n", "labels expects text values"),
        ("[[target]]\nname = \"a\\u0007b\"\nurl = 'tcp://h:1'\n", "without control characters"),
        ("[[check]]\nurl = 'tcp://h:1'\n", "unknown top-level key 'check'; [[check]] is a checks file's"),
        ("[monitr]\n", "unknown top-level key 'monitr'; did you mean 'monitor'?"),
        ("[monitor]\nlisen = ':1'\n", "[monitor]: unknown setting 'lisen'; did you mean 'listen'?"),
        ("[monitor]\nlisten = 'localhost'\n", "listen expects \"host:port\""),
        ("[monitor]\nlisten = '::1:80'\n", "listen expects \"host:port\""),
        ("[monitor]\nkeep-raw = '14y'\n", "keep-raw expects seconds or a number with s, m, h or d"),
        ("[monitor]\nmax-in-flight = 0\n", "max-in-flight expects a whole number from 1"),
        ("[monitor]\nstore = 'postgresql://u:pw@db/n'\n", "store holds a password; keep it out of the file"),
        ("[monitor]\nstore = 'mysql://db/n'\n", "store expects a SQLite file"),
        ("[monitor]\nstore = 'postgresql://u@db/n'\nstore-password-env = 'NOPE'\n", "the environment has no NOPE"),
        ("[monitor]\napi-token-env = 'NOPE'\n", "api-token-env NOPE: the environment has no NOPE"),
        ("[[target]]\nurl = 'https://u@h/'\npassword-env = 'NOPE'\n", "password-env NOPE: the environment has no NOPE"),
        ("[[alert]]\nurl = 'http://h/'\n", "alert 1 has no name"),
        ("[[alert]]\ntype = 'slack'\nurl = 'http://h/'\n[[alert]]\ntype = 'slack'\nurl = 'http://g/'\n",
         "alert 2: another [[alert]] is named 'slack' too; give each its own name"),
        ("[[alert]]\nname = 'a'\ntype = 'webhok'\n", "alert 1 (a): type 'webhok' is not a channel type; did you "
         "mean 'webhook'?"),
        ("[[alert]]\nname = 'a'\ntype = 'slack'\nurl-env = 'NOPE'\n", "alert 1 (a): "),
        ("[[target]]\nname = 'shop'\nurl = 'tcp://h:1'\n[[maintenance]]\ntargets = ['shp']\nstart = 1\nend = 2\n",
         "maintenance 1: target 'shp' is not defined; did you mean 'shop'?"),
        ("[[maintenance]]\nstart = 1\nend = 2\n", "maintenance 1 names no targets or groups"),
        ("[group.g]\n[[maintenance]]\ngroups = ['g']\nstart = 1\n",
         "maintenance 1: a one-off maintenance window needs"),
        ("[module.x]\nprober = 'htp'\n", "[module.x]: prober 'htp' is not one of"),
        ("[module.x]\nprober = 'http'\nsend = 'a'\n", "[module.x]: send does not apply to http probes"),
        ("[module.x]\nprober = 'dns'\n", "a dns module needs query-name"),
        ("[[target]\n", "not valid TOML"),
        ("target = 3\n", "target must be [[target]] tables"),
        ("[group]\nweb = 3\n", "group must be named tables"),
    ],
)
def test_mistakes_are_one_line_naming_file_table_and_key(tmp_path, text, words):
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as info:
        load_config(path, env=ENV)
    message = str(info.value)
    assert words in message, message
    assert message.startswith(path) and "\n" not in message and "\x1b" not in message and "\x07" not in message


@pytest.mark.parametrize(
    "text",
    [
        "[monitor]\nstore = 'postgresql://u:hunter2@db/n'\n",
        "[web]\npassword-hash = 'hunter2'\n",
        "[web]\nusers = [{ name = 'alice', password-hash = 'hunter2' }]\n",
    ],
)
def test_a_mistake_never_shows_a_password(tmp_path, text):
    # The error goes to a terminal, a journal: a password in the wrong key stays out of it.
    with pytest.raises(UsageError) as info:
        load_config(write(tmp_path, text), env=ENV)
    assert "hunter2" not in str(info.value), str(info.value)


def test_same_words_as_a_checks_file(tmp_path):
    from netkit.check.file import load_checks

    body = "url = 'tcp://h:1'\nwarning = '5:1'\n"
    with pytest.raises(UsageError) as as_check:
        load_checks(write(tmp_path, "[[check]]\n" + body, "checks.toml"))
    with pytest.raises(UsageError) as as_target:
        load_config(write(tmp_path, "[[target]]\n" + body), env=ENV)
    assert str(as_check.value).split("check 1: ", 1)[1] == str(as_target.value).split("target 1: ", 1)[1]


def test_bounds(tmp_path):
    big = tmp_path / "big.toml"
    with big.open("w") as f:
        f.truncate(65 << 20)
    with pytest.raises(UsageError, match="more than the 64 MiB a monitor config may have"):
        load_config(str(big), env=ENV)
    many = "".join(f"[[target]]\nurl = 'tcp://h:{n % 60000 + 1}'\nname = 't{n}'\n" for n in range(MAX_TARGETS + 1))
    with pytest.raises(UsageError, match=f"{MAX_TARGETS + 1} targets, more than the 100,000"):
        load(tmp_path, many)
    with pytest.raises(UsageError, match="is a directory"):
        load_config(str(tmp_path), env=ENV)


def test_parse_listen():
    assert parse_listen(" 0.0.0.0:9115 ") == "0.0.0.0:9115"
    assert parse_listen("[::1]:80") == "[::1]:80" and parse_listen("") == ""
    for bad in ("host", ":80", "h:99999", "h:x", "::1:80", 5):
        with pytest.raises(ValueError):
            parse_listen(bad)


def test_example_config_loads():
    from pathlib import Path

    example = Path(__file__).parents[2] / "examples" / "monitor" / "fleet.toml"
    config = load_config(str(example), env={"HOME": "/home/op"})
    assert config.targets and config.channels and config.modules
    # make run's: this machine's services, stored in the checkout's .state/.
    local = load_config(str(example.parents[1] / "monitor.toml"), env={})
    assert {t.id for t in local.targets} >= {"monitor metrics", "ssh", "dns"}
    assert local.settings.state_dir == str(example.parents[2] / ".state")
