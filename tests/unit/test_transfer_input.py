"""Bad input to get/put/mirror: one clear line, exit 2, nothing written; and the transfer
library's small parts (checksums, .part files, progress, retries) without a network."""

import io
import os
import threading
from pathlib import Path

import pytest

from netkit.core.errors import ConnectError, RefusedError
from netkit.transfer import _common
from netkit.transfer._common import Options, Pacer, parse_checksum, retrying
from netkit.transfer._part import PartFile

GOOD_SHA = "sha256=" + "a" * 64


def cli(command, *argv):
    import importlib

    out, err = io.StringIO(), io.StringIO()
    code = importlib.import_module(f"netkit.cli.{command}").main(list(map(str, argv)), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("argv, says", [
    ((), "give a URL"),
    (("gopher://host/x",), "unknown scheme 'gopher://'"),
    (("example.com/file",), "has no scheme; write it as scheme://host/path"),
    (("http://host:99999/x",), "out of range; the port is 1-65535"),
    (("http://[::1/x",), "without ']'"),
    (("http://h/a", "http://h/b", "-"), "standard output ('-') takes one URL only"),
    (("http://h/a", "-o", "x", "-o", "y"), "2 outputs (-o/-) for 1 URL(s)"),
    (("http://h/a", "--checksum", "sha256=abc"), "a sha256 checksum is 64 hexadecimal digits"),
    (("http://h/a", "--checksum", "crc32=00"), "write ALGO=HEX with ALGO one of sha256"),
    (("http://h/a", "--limit-rate", "fast"), "--limit-rate fast: expects a size like"),
    (("http://h/a", "--retry", "-1"), "--retry -1: expects a whole number"),
    (("http://h/a", "--timeout", "0"), "greater than 0"),
    (("http://h/a", "-d", "novalue"), "'novalue' is not KEY=VALUE"),
    (("http://h/a", "-G"), "-G/--get puts --data in the query; give --data"),
    (("http://h/a", "-H", "NoColon"), "is not a header; write 'Name: value'"),
    (("ftp://h/a", "-I"), "--head is for http:// and https:// URLs, not ftp://"),
    (("http://h/a", "--identity", __file__), "--identity and --known-hosts are for sftp://"),
    (("http://h/a", "--cacert", "/no/such.pem"), "/no/such.pem: no such file"),
    (("http://h/a", "--frobnicate"), "unknown option --frobnicate"),
    (("ftp://h/",), "does not end in a file name; give one with -o FILE"),
    (("file://otherhost/etc/passwd",), "file URLs name this machine only"),
])
def test_get_bad_input(argv, says, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("get", *argv)
    assert code == 2 and out == "" and says in err
    assert err.count("\n") == 1 and err.startswith("netkit get: ")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("argv, says", [
    ((), "give a file and a URL"),
    (("missing.bin", "ftp://h/x"), "missing.bin: no such file"),
    ((".", "ftp://h/x"), "is not a file; put uploads one file (netkit mirror DIR URL"),
    ((__file__, "file:///tmp/x"), "unknown scheme 'file://'"),
    ((__file__, "ftp://h/x", "-X", "POST"), "--request is for http:// and https://"),
    ((__file__, "http://h/x", "-X", "DELETE"), "put sends PUT or POST"),
    ((__file__, "sftp://h/x", "-c"), "-c resumes downloads"),
])
def test_put_bad_input(argv, says):
    code, _, err = cli("put", *argv)
    assert code == 2 and says in err and err.count("\n") == 1


@pytest.mark.parametrize("argv, says", [
    (("a", "b"), "one of the two must be an ftp://, ftps:// or sftp:// URL"),
    (("ftp://h/a/", "sftp://h/b/"), "one of the two must be"),
    (("http://h/a/", "dir"), "unknown scheme 'http://'"),
    (("/no/such/dir", "ftp://h/x/"), "/no/such/dir: not a directory"),
    (("ftp://h/a/", "d", "--identity", __file__), "--identity and --known-hosts are for sftp://"),
    (("ftp://h/a/",), "give a URL and a directory"),
    (("ftp://h/a/", "d", "-P", "0"), "--parallel 0: expects a whole number of 1 or more"),
    (("ftp://h/a/", "d", "--parallel", "many"), "--parallel many: expects a whole number of 1 or more"),
])
def test_mirror_bad_input(argv, says):
    code, _, err = cli("mirror", *argv)
    assert code == 2 and says in err and err.count("\n") == 1


def test_help_lists_every_option():
    for command in ("get", "put", "mirror"):
        code, out, _ = cli(command, "--help")
        assert code == 0 and out.startswith(f"usage: netkit {command}")
        assert "--retry" in out and "--limit-rate" in out and "--quiet" in out


def test_checksum_forms():
    assert parse_checksum("SHA256=" + "A" * 64) == ("sha256", "a" * 64)
    assert parse_checksum("md5=" + "0" * 32) == ("md5", "0" * 32)
    with pytest.raises(ValueError, match="40 hexadecimal"):
        parse_checksum("sha1=xyz")


def test_part_file_resume_restart_and_mismatch(tmp_path):
    import hashlib

    dest = str(tmp_path / "f")
    with open(dest + ".part", "wb") as f:
        f.write(b"hello ")
    part = PartFile(dest, resume=True, checksum=("sha256", hashlib.sha256(b"hello world").hexdigest()))
    assert part.offset == 6
    part.write(b"world")
    part.commit()
    assert Path(dest).read_bytes() == b"hello world" and not os.path.exists(dest + ".part")
    part = PartFile(dest, resume=True, checksum=("md5", "0" * 32))
    part.write(b"other")
    with pytest.raises(_common.IntegrityError, match="was not written"):
        part.commit()
    assert Path(dest).read_bytes() == b"hello world" and not os.path.exists(dest + ".part")
    part = PartFile(dest)
    part.write(b"abc")
    part.restart()
    part.write(b"xy")
    part.commit(mtime=1_000_000_000)
    assert Path(dest).read_bytes() == b"xy" and os.stat(dest).st_mtime == 1_000_000_000


def test_part_file_writes_devices_directly(tmp_path):
    part = PartFile("/dev/null")
    assert part.direct and part.part is None
    part.write(b"x" * 100)
    part.commit()
    with pytest.raises(_common.LocalError, match="is a directory"):
        PartFile(str(tmp_path))


def test_pacer_reports_and_cancels():
    seen = []
    cancel = threading.Event()
    pacer = Pacer(lambda done, total, final=False: seen.append((done, total, final)), None, cancel)
    pacer.begin(10, 100)
    pacer._next = 0
    pacer(5)
    assert seen[-1] == (15, 100, False)
    cancel.set()
    pacer._next = 0
    with pytest.raises(_common.Cancelled):
        pacer(1)
    pacer.finish()
    assert seen[-1] == (16, 100, True)
    assert Pacer(rate=1000).block_size() == 1024 and Pacer().block_size() == _common.BUFFER_SIZE


def test_retrying_backs_off_and_stops_on_permanent_errors(monkeypatch):
    waits = []
    monkeypatch.setattr(_common, "sleep", waits.append)
    calls = []

    def flaky(attempt):
        calls.append(attempt)
        if attempt < 3:
            raise ConnectError("reset")
        return "ok"

    assert retrying(flaky, Options(retries=3, retry_delay=0.5)) == "ok" and calls == [1, 2, 3]
    assert waits == [0.5, 1.0]

    def refused(attempt):
        calls.append(attempt)
        raise RefusedError("refused")

    calls.clear()
    with pytest.raises(RefusedError):
        retrying(refused, Options(retries=3))
    assert calls == [1]
    err = _common.HTTPStatusError("503", 503, retry_after=7)
    waits.clear()
    calls.clear()

    def busy(attempt):
        calls.append(attempt)
        raise err

    with pytest.raises(_common.HTTPStatusError):
        retrying(busy, Options(retries=1))
    assert waits == [7] and calls == [1, 2]
    assert not _common.is_transient(_common.HTTPStatusError("404", 404))


def test_mirror_globs():
    from netkit.transfer._mirror import selected

    assert selected("nginx/access.log", ["*.log"]) and not selected("nginx/access.log.1.gz", ["*.log"])
    assert selected("a/b.txt", ["a/*"]) and not selected("a/b.txt", (), ["a/*"])
    assert not selected("dir/.x.part") and not selected("x.iso.part")


def test_mirror_plan_as_rsync():
    from netkit.transfer._mirror import plan

    source = {"same": (10, 100.7), "newer": (10, 200), "bigger": (11, 100), "new": (5, 1), "skip.tmp": (1, 1),
              "unknown-time": (10, None)}
    dest = {"same": (10, 100.2), "newer": (10, 100), "bigger": (10, 100), "extra": (3, 3), "extra.tmp": (3, 3),
            "half.part": (1, 1), "unknown-time": (10, None)}
    copy, unchanged, extra = plan(source, dest, exclude=["*.tmp"])
    assert [rel for rel, _, _ in copy] == ["bigger", "new", "newer", "unknown-time"]
    assert unchanged == ["same"]  # the same second
    assert extra == ["extra"]  # excluded and .part files are never deleted
    assert plan(source, dest, include=["n*"])[2] == []


def test_import_is_lazy():
    import subprocess
    import sys

    code = ("import sys; import netkit.cli.get, netkit.transfer; "
            "print(sorted(m for m in ('asyncssh', 'ssl', 'ftplib', 'asyncio', 'hashlib', 'urllib.parse', 'calendar') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_http_dates():
    from netkit.transfer._http import http_date

    assert http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777
    assert http_date("Tue, 29 Feb 2000 23:59:59 GMT") == 951868799
    assert http_date("Sunday, 06-Nov-94 08:49:37 GMT") is None and http_date("soon") is None


def test_ftp_times():
    from netkit.transfer._ftp import _mdtm_time

    assert _mdtm_time("19941106084937") == 784111777
    assert _mdtm_time("20000229235959.123") == 951868799  # fractions dropped
    assert _mdtm_time("19691231235959") == -1
    for bad in ("20241301000000", "20240100000000", "2024010100000", "2024-01-01 00:00", ""):
        assert _mdtm_time(bad) is None, bad


def test_limit_rate_sleeps_to_keep_the_pace(monkeypatch):
    clock = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(_common, "monotonic", lambda: clock[0])
    monkeypatch.setattr(_common, "sleep", sleep)
    pacer = Pacer(rate=100_000)
    pacer.begin(0, None)
    assert pacer.block_size() == 10_000
    for _ in range(10):
        pacer(10_000)
    assert abs(sum(slept) - 1.0) < 1e-9 and clock[0] == pytest.approx(1.0)


def test_shared_rate_is_one_budget_for_every_worker(monkeypatch):
    clock = [0.0]

    def sleep(seconds):
        clock[0] += seconds

    monkeypatch.setattr(_common, "monotonic", lambda: clock[0])
    monkeypatch.setattr(_common, "sleep", sleep)
    shared = _common.SharedRate(100_000)
    pacers = [Pacer(shared=shared) for _ in range(4)]
    assert all(p.rate == 100_000 and p.block_size() == 10_000 for p in pacers)
    for _ in range(5):  # four transfers take turns: 200 kB in all, at 100 kB/s
        for p in pacers:
            p(10_000)
    assert clock[0] == pytest.approx(2.0, abs=0.1)
    clock[0] += 60  # a minute idle saves up at most a tenth of a second
    start = clock[0]
    for _ in range(10):
        pacers[0](10_000)
    assert clock[0] - start == pytest.approx(0.9)


def test_remote_names_are_plain_names_only():
    from netkit.core.fs import check_name, check_relative

    for name in ("a", "a b", "..a", "a..", "\\x", ".hidden", "caf\u00e9"):
        assert check_name(name) == name
    for name in ("", ".", "..", "../x", "a/b", "/etc/x", "a\0b"):
        with pytest.raises(ValueError):
            check_name(name)
    assert check_relative("a/b/c") == "a/b/c"
    for rel in ("a/../b", "/a", "a//b", "a/", "/".join(["d"] * 80)):
        with pytest.raises(ValueError):
            check_relative(rel)


def test_open_temp_never_follows_and_takes_back_only_our_own_file(tmp_path):
    from netkit.core.fs import LocalError, open_temp

    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    os.symlink(victim, tmp_path / "link.part")
    os.link(victim, tmp_path / "hard.part")
    os.mkfifo(tmp_path / "fifo.part")
    for name, says in (("link.part", "symbolic link"), ("hard.part", "hard links"), ("fifo.part", "not a regular")):
        with pytest.raises(LocalError, match=says):
            open_temp(str(tmp_path / name))
    assert victim.read_bytes() == b"keep"
    (tmp_path / "mine.part").write_bytes(b"12345")
    fd, size = open_temp(str(tmp_path / "mine.part"), keep=True)
    assert size == 5 and os.lseek(fd, 0, os.SEEK_CUR) == 5
    os.close(fd)
    fd, size = open_temp(str(tmp_path / "mine.part"))
    assert size == 0 and os.fstat(fd).st_size == 0
    os.close(fd)
    fd, size = open_temp(str(tmp_path / "new.part"))
    assert size == 0 and stat_mode(tmp_path / "new.part") == 0o666 & ~current_umask()
    os.close(fd)


def stat_mode(path):
    return os.stat(path).st_mode & 0o777


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_inside_makes_directories_and_refuses_links_out(tmp_path):
    from netkit.core.fs import LocalError, UnsafeName, inside

    top = tmp_path / "top"
    assert inside(str(top), "a/b/c.txt") == str(top / "a" / "b" / "c.txt") and (top / "a" / "b").is_dir()
    (tmp_path / "etc").mkdir()
    os.symlink(tmp_path / "etc", top / "out")
    os.symlink("a", top / "in")
    with pytest.raises(LocalError, match="link out of"):
        inside(str(top), "out/x/y")
    assert os.listdir(tmp_path / "etc") == []
    assert inside(str(top), "in/b/x") == str(top / "in" / "b" / "x")
    with pytest.raises(UnsafeName):
        inside(str(top), "../x")
