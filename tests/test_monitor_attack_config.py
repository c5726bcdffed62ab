"""The red team's attacks on the monitor's config: a storm of SIGHUPs, the config file
replaced by a symlink to /dev/zero, a FIFO, a huge (sparse) file and a binary one while the
monitor runs (each refused in one line, the running config kept, results going on),
100,000 targets (the most a config may have) and one more, and durations no clock has."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from netkit.monitor._config import MAX_CONFIG_FILE, MAX_TARGETS
from tests.helpers import run_netkit
from tests.peers.monitor_hostile import MonitorProcess

# SIGHUPs in one storm, the pause between two, and the idle targets that make each reload
# take a while (parsing them); the log is read again after STORM_SETTLE s until it stops growing.
STORM = 40
STORM_PAUSE = 0.05
STORM_TARGETS = 5000
STORM_SETTLE = 5.0


def good_target(peers) -> str:
    return f'[[target]]\nname = "good"\nurl = "http://127.0.0.1:{peers.http_ok}/"\ninterval = "1s"\n'


def results(mon) -> int:
    return len(json.loads(mon.get("/api/targets/good/history?limit=10000")[2]))


def more_results(mon, what: str, n: int = 3) -> None:
    before = results(mon)
    mon.wait_for(lambda: results(mon) >= before + n, f"{n} more results after {what}")


def test_a_storm_of_sighups_coalesces_and_the_monitor_goes_on(tmp_path, monitor_hostile):
    """SIGHUPs that come while a reload parses a big config are one more reload, not one
    each (a queue of them kept the monitor parsing for minutes)."""
    idle = "".join(f'[[target]]\nname = "idle{n}"\nurl = "tcp://127.0.0.1:1"\ninterval = "7d"\n'
                   for n in range(STORM_TARGETS))
    with MonitorProcess(tmp_path, good_target(monitor_hostile) + idle) as mon:
        mon.wait_for(lambda: results(mon) >= 1, "the first result")
        for _ in range(STORM):
            os.kill(mon.proc.pid, signal.SIGHUP)
            time.sleep(STORM_PAUSE)     # each signal delivered, not merged by the kernel
        more_results(mon, "the storm")
        # the reloads the storm asked for are done once the log stops growing
        seen = -1
        while seen != (seen := mon.stderr().count("reloaded:")):
            time.sleep(STORM_SETTLE)
        assert 1 <= seen <= STORM // 4, seen
        assert mon.get("/metrics")[0] == 200
    assert mon.stop() == 0


def test_a_config_file_replaced_by_hostile_files_is_refused_and_the_old_one_kept(tmp_path, monitor_hostile):
    mon = MonitorProcess(tmp_path, good_target(monitor_hostile))
    good_text = mon.cfg.read_text()
    with mon:
        mon.wait_for(lambda: results(mon) >= 1, "the first result")

        def replace_and_reload(make, what: str, why: str) -> None:
            os.rmdir(mon.cfg) if mon.cfg.is_dir() and not mon.cfg.is_symlink() else os.unlink(mon.cfg)
            make(mon.cfg)
            refused = mon.stderr().count("reload refused")
            os.kill(mon.proc.pid, signal.SIGHUP)
            mon.wait_for(lambda: mon.stderr().count("reload refused") > refused, f"the refusal of {what}")
            line = [ln for ln in mon.stderr().splitlines() if "reload refused" in ln][-1]
            assert why in line, (what, line)
            more_results(mon, what)

        replace_and_reload(lambda p: p.symlink_to("/dev/zero"), "a symlink to /dev/zero", "not a regular file")
        replace_and_reload(lambda p: os.mkfifo(p), "a FIFO", "not a regular file")
        replace_and_reload(lambda p: p.mkdir(), "a directory", "a directory")

        def huge(p):
            with open(p, "wb") as f:
                f.truncate(MAX_CONFIG_FILE + 1)     # sparse: costs no disk

        replace_and_reload(huge, "a huge file", "more than")
        replace_and_reload(lambda p: p.write_bytes(good_text.encode() + b"\n# \xff\xfe\x00\x1b[2J\n"),
                           "a binary file", "not UTF-8")
        replace_and_reload(lambda p: p.write_text(good_text + "\n[[target]]\nname = \"good\"\n"
                                                  "url = \"tcp://127.0.0.1:1\"\n"), "a duplicate id", "also target")
        # and a symlink to a good config is followed (as an administrator means it)
        elsewhere = tmp_path / "elsewhere.toml"
        elsewhere.write_text(good_text)
        replace_and_reload_ok = mon.stderr().count("reloaded:")
        os.unlink(mon.cfg)
        mon.cfg.symlink_to(elsewhere)
        os.kill(mon.proc.pid, signal.SIGHUP)
        mon.wait_for(lambda: mon.stderr().count("reloaded:") > replace_and_reload_ok, "the good reload")
    assert mon.stop() == 0
    err = mon.stderr()
    assert "Traceback" not in err and "\x1b" not in err and "\x00" not in err


def test_the_most_targets_a_config_may_have_load_and_one_more_is_refused(tmp_path):
    head = f'[monitor]\nstore = "{tmp_path}/m.db"\nlisten = ""\n'
    target = '[[target]]\nname = "t{0}"\nurl = "tcp://10.{1}.{2}.{3}:80"\nlabels = {{ n = "{0}" }}\n'
    parts = [head] + [target.format(i, i >> 16 & 255, i >> 8 & 255, i & 255) for i in range(MAX_TARGETS)]
    cfg = tmp_path / "big.toml"
    cfg.write_text("".join(parts))
    code, out, err = run_netkit("monitor", "check", cfg, timeout=600)
    assert code == 0, err
    assert f"{MAX_TARGETS} targets" in out
    with open(cfg, "a") as f:
        f.write(target.format(MAX_TARGETS, 200, 0, 1))
    code, out, err = run_netkit("monitor", "check", cfg, timeout=600)
    assert code == 2 and len(err.strip().splitlines()) == 1 and f"{MAX_TARGETS:,}" in err, err


BAD_DURATIONS = ('"1e309s"', '"-5s"', '"nan"', "nan", "inf", "-inf", "1e309", "-5", '"5 s"', '"5ms"', '"0x10"',
                 '"1_0s"', '"٥s"', "true", "[]")


@pytest.mark.parametrize("key, where", [
    ("interval", "[[target]]"), ("timeout", "[[target]]"), ("keep-raw", "[monitor]"),
    ("resend", "[[alert]]"), ("timeout", "[[alert]]"), ("duration", "[[maintenance]]"),
])
def test_durations_no_clock_has_are_one_line_and_exit_2(tmp_path, key, where):
    for value in BAD_DURATIONS:
        monitor = f'[monitor]\nstore = "{tmp_path}/m.db"\nlisten = ""\n'
        target = '[[target]]\nname = "t"\nurl = "tcp://127.0.0.1:1"\n'
        alert = '[[alert]]\ntype = "command"\nargv = ["/bin/true"]\n'
        window = '[[maintenance]]\ntargets = ["t"]\ndays = ["sun"]\nat = "03:00"\nduration = "1h"\n'
        tables = {"[monitor]": monitor, "[[target]]": target, "[[alert]]": alert, "[[maintenance]]": window}
        tables[where] = tables[where].replace('duration = "1h"\n', "") + f"{key} = {value}\n"
        cfg = tmp_path / "m.toml"
        cfg.write_text("".join(tables.values()))
        code, out, err = run_netkit("monitor", "check", cfg)
        assert code == 2, (key, where, value, out, err)
        assert len(err.strip().splitlines()) == 1 and key in err, (key, value, err)
