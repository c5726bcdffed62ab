"""--max-time (the whole transfer, retries included, as curl -m; for mirror the whole run)
and --speed-limit/--speed-time (as curl -Y/-y) for every scheme get, put and mirror take:
servers that trickle a byte every 0.2 s, or never answer, where no idle timeout fires.
(http(s) is tested in test_hostile_http.py.)

Each test bounds itself (run's timeout) and asserts only how the command ended: the exit
code, the one line that names the limit, and that no destination appeared."""

import os

import pytest

from tests.peers.transfer_tools import run

MAX_TIME_PASSED = "--max-time 1.5 s passed"
TOO_SLOW = "slower than --speed-limit 1024 B/s for 1 s"


def one_line(err):
    return len(err.strip().splitlines()) == 1


# -- ftp:// -----------------------------------------------------------------------------------

def test_get_ftp_max_time_ends_a_trickle_and_is_not_retried(trickling_ftp, tmp_path):
    server = trickling_ftp("trickle")
    code, _, err = run("get", server.url("/top/slow.txt"), "-o", tmp_path / "out", "--max-time", "1.5",
                       "--retry", "3", timeout=30)
    assert code == 1 and MAX_TIME_PASSED in err and "retry" not in err and one_line(err), err
    assert server.retrieved == 1 and not (tmp_path / "out").exists()


def test_get_ftp_speed_limit_ends_a_trickle_and_is_retried(trickling_ftp, tmp_path):
    server = trickling_ftp("trickle")
    code, _, err = run("get", server.url("/top/slow.txt"), "-o", tmp_path / "out", "--speed-limit", "1k",
                       "--speed-time", "1", "--retry", "1", "--retry-delay", "0", timeout=30)
    assert code == 1 and TOO_SLOW in err and "retry 1 of 1" in err, err
    assert server.retrieved == 2 and not (tmp_path / "out").exists()


def test_get_ftp_max_time_covers_a_greeting_that_never_ends(trickling_ftp, tmp_path):
    server = trickling_ftp("greet")
    code, _, err = run("get", server.url("/top/a.txt"), "-o", tmp_path / "out", "--max-time", "1.5",
                       timeout=30)
    assert code == 1 and MAX_TIME_PASSED in err and one_line(err), err


def test_put_ftp_max_time_ends_an_upload_nobody_reads(trickling_ftp, tmp_path):
    server = trickling_ftp("stall")
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(64 * 1024 * 1024)  # more than the socket buffers hold
    code, _, err = run("put", big, server.url("/top/big"), "--max-time", "1.5", "--retry", "2", timeout=30)
    assert code == 1 and MAX_TIME_PASSED in err and one_line(err), err


# -- sftp:// ----------------------------------------------------------------------------------

def sftp(server):
    return ("--known-hosts", server.known_hosts)


def test_get_sftp_max_time_ends_a_trickle(trickling_sftp, tmp_path):
    code, _, err = run("get", trickling_sftp.url("/slow.txt"), "-o", tmp_path / "out", "--max-time", "1.5",
                       "--retry", "3", *sftp(trickling_sftp), timeout=30)
    assert code == 1 and MAX_TIME_PASSED in err and "retry" not in err and one_line(err), err
    assert not (tmp_path / "out").exists()


def test_get_sftp_max_time_cuts_a_read_never_answered(trickling_sftp, tmp_path):
    code, _, err = run("get", trickling_sftp.url("/stall.txt"), "-o", tmp_path / "out", "--max-time", "1.5",
                       *sftp(trickling_sftp), timeout=30)
    assert code == 1 and MAX_TIME_PASSED in err and one_line(err), err
    assert not (tmp_path / "out").exists()


def test_get_sftp_speed_limit_ends_a_trickle_and_is_retried(trickling_sftp, tmp_path):
    code, _, err = run("get", trickling_sftp.url("/slow.txt"), "-o", tmp_path / "out", "--speed-limit", "1k",
                       "--speed-time", "1", "--retry", "1", "--retry-delay", "0", *sftp(trickling_sftp), timeout=30)
    assert code == 1 and TOO_SLOW in err and "retry 1 of 1" in err, err


def test_put_sftp_max_time_cuts_a_write_never_answered(trickling_sftp, tmp_path):
    local = tmp_path / "up.txt"
    local.write_bytes(b"u" * 100_000)
    code, _, err = run("put", local, trickling_sftp.url("/top/up.txt"), "--max-time", "1.5",
                       *sftp(trickling_sftp), timeout=30)
    assert code == 1 and MAX_TIME_PASSED in err and one_line(err), err


# -- file:// ----------------------------------------------------------------------------------

def test_get_file_max_time_and_speed_limit(tmp_path):
    source = tmp_path / "source"
    source.write_bytes(b"s" * 1_000_000)
    # --limit-rate holds the copy to 10 KB/s: the limits end it as they end a slow server
    code, _, err = run("get", f"file://{source}", "-o", tmp_path / "out", "--limit-rate", "10k",
                       "--max-time", "1.5", timeout=30)
    assert code == 1 and MAX_TIME_PASSED in err and one_line(err), err
    code, _, err = run("get", f"file://{source}", "-o", tmp_path / "out", "--limit-rate", "1k",
                       "--speed-limit", "100k", "--speed-time", "1", "--retry", "0", timeout=30)
    assert code == 1 and "slower than --speed-limit 102400 B/s for 1 s" in err and one_line(err), err
    assert not (tmp_path / "out").exists()
    code, _, err = run("get", f"file://{source}", "-o", tmp_path / "out", "--max-time", "30",
                       "--speed-limit", "1", "--speed-time", "5")
    assert code == 0 and (tmp_path / "out").read_bytes() == source.read_bytes(), err


# -- mirror: --max-time is the whole run's, --speed-limit each file's ---------------------------

@pytest.mark.parametrize("scheme", ["ftp", "sftp"])
def test_mirror_max_time_is_the_whole_run(trickling_ftp, trickling_sftp, tmp_path, scheme):
    if scheme == "ftp":
        url, extra = trickling_ftp("trickle").url("/top/"), ()
    else:
        url, extra = trickling_sftp.url("/top"), sftp(trickling_sftp)
    dest = tmp_path / "dest"
    code, out, err = run("mirror", url, dest, "-P", "1", "--max-time", "1.5", "--retry", "3", "--delete",
                         *extra, timeout=30)
    lines = err.splitlines()
    assert code == 1 and len(lines) == 2, err
    assert "slow.txt" in lines[0] and MAX_TIME_PASSED in lines[0]  # cut on its way
    assert "z.txt" in lines[1] and "before it began" in lines[1]  # never started
    assert sorted(os.listdir(dest)) == ["a.txt", "slow.txt.part"] and b"1 copied" in out and b"2 failed" in out


def test_mirror_max_time_covers_the_login(trickling_ftp, tmp_path):
    server = trickling_ftp("greet")
    code, _, err = run("mirror", server.url("/top/"), tmp_path / "dest", "--max-time", "1.5", timeout=30)
    assert code == 1 and MAX_TIME_PASSED in err and one_line(err), err
    assert not (tmp_path / "dest").exists()


def test_mirror_speed_limit_retries_the_slow_file_only(trickling_ftp, tmp_path):
    server = trickling_ftp("trickle")
    dest = tmp_path / "dest"
    code, out, err = run("mirror", server.url("/top/"), dest, "-P", "1", "--speed-limit", "1k", "--speed-time", "1",
                         "--retry", "1", "--retry-delay", "0", timeout=30)
    assert code == 1 and one_line(err) and "slow.txt" in err and TOO_SLOW in err, err
    assert server.retrieved == 4  # a.txt, slow.txt twice, z.txt
    assert b"2 copied" in out and sorted(os.listdir(dest)) == ["a.txt", "slow.txt.part", "z.txt"]


def test_limits_are_in_every_transfer_commands_help():
    for command in ("get", "put", "mirror"):
        code, out, _ = run(command, "--help")
        assert code == 0 and b"--max-time" in out and b"--speed-limit" in out and b"--speed-time" in out
    _, out, _ = run("mirror", "--help")
    assert b"the whole run" in out
    code, _, err = run("mirror", "ftp://127.0.0.1:9/top/", "dest", "--speed-time", "5")
    assert code == 2 and "give --speed-limit" in err


def test_no_retry_waits_past_max_time(trickling_ftp, tmp_path):
    """A retry whose wait would end after --max-time is not waited for: the file fails at
    once, and the run goes on with the next file on a new connection."""
    server = trickling_ftp("trickle")
    dest = tmp_path / "dest"
    code, out, err = run("mirror", server.url("/top/"), dest, "-P", "1", "--speed-limit", "1k", "--speed-time", "1",
                         "--retry", "1", "--retry-delay", "30", "--max-time", "20", timeout=30)
    assert code == 1 and one_line(err) and "slow.txt" in err and TOO_SLOW in err, err
    assert "not retried: its wait of 30 s would pass --max-time 20 s" in err
    assert b"2 copied" in out and sorted(os.listdir(dest)) == ["a.txt", "slow.txt.part", "z.txt"]
    code, _, err = run("get", server.url("/top/slow.txt"), "-o", tmp_path / "out", "--speed-limit", "1k",
                       "--speed-time", "1", "--retry", "1", "--retry-delay", "30", "--max-time", "20", timeout=30)
    assert code == 1 and one_line(err) and "not retried" in err, err
