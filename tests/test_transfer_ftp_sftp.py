"""netkit get/put/mirror over ftp://, ftps:// (pyftpdlib) and sftp:// (OpenSSH's sshd)."""

import os
import time

from tests.peers.ftp import BIG_CONTENT, HELLO_CONTENT, NESTED_CONTENT, README_CONTENT
from tests.peers.terminal import screen
from tests.peers.transfer_tools import run, run_on_pty, small_tmpfs

OLD = b"the previous version, which must survive\n"


def ftp_url(ftp, path, user=True, scheme="ftp", port=None):
    return f"{scheme}://{ftp.user + '@' if user else ''}127.0.0.1:{port or ftp.port}{path}"


def env_of(ftp):
    return {"FTP_PW": ftp.password}


def sftp_args(sshd):
    return ("--identity", sshd.client_key, "--known-hosts", sshd.known_hosts)


def sftp_url(sshd, path):
    return f"sftp://{sshd.user}@{sshd.host}:{sshd.port}{path}"


# -- FTP get ---------------------------------------------------------------------------------

def test_ftp_get_anonymous_user_and_absolute_path(ftp_server, tmp_path):
    code, out, _ = run("get", ftp_url(ftp_server, "/pub/readme.txt", user=False), "-")
    assert code == 0 and out == README_CONTENT
    code, _, _ = run("get", ftp_url(ftp_server, "/big.bin"), "--password-env", "FTP_PW", cwd=tmp_path,
                     env=env_of(ftp_server))
    assert code == 0 and (tmp_path / "big.bin").read_bytes() == BIG_CONTENT
    assert os.listdir(tmp_path) == ["big.bin"]
    # %2F: absolute from the server's root (pyftpdlib's root is the home directory).
    url = f"ftp://{ftp_server.user}:{ftp_server.password}@127.0.0.1:{ftp_server.port}/%2Fsub/nested.txt"
    code, out, _ = run("get", url, "-")
    assert code == 0 and out == NESTED_CONTENT


def test_ftp_mdtm_gives_the_file_its_time(ftp_server, tmp_path):
    name = f"dated-{os.getpid()}.txt"
    (ftp_server.home / name).write_bytes(b"dated\n")
    os.utime(ftp_server.home / name, (1_500_000_000, 1_500_000_000))
    try:
        code, _, _ = run("get", ftp_url(ftp_server, f"/{name}"), "--password-env", "FTP_PW", "-o",
                         tmp_path / "d", env=env_of(ftp_server))
        assert code == 0 and (tmp_path / "d").stat().st_mtime == 1_500_000_000
    finally:
        (ftp_server.home / name).unlink()


def test_ftps_explicit_tls_and_tls_required(ftp_server, ftp_tls_required, pki, tmp_path):
    env = env_of(ftp_server)
    code, out, _ = run("get", ftp_url(ftp_server, "/big.bin", scheme="ftps"), "--password-env", "FTP_PW",
                       "--cacert", pki.ca_file, "-", env=env)
    assert code == 0 and out == BIG_CONTENT
    code, _, err = run("get", ftp_url(ftp_server, "/hello.txt", scheme="ftps"), "--password-env", "FTP_PW",
                       "-o", tmp_path / "h", env=env)
    assert code == 1 and "did not verify" in err and os.listdir(tmp_path) == []
    code, _, err = run("get", ftp_url(ftp_tls_required, "/hello.txt"), "--password-env", "FTP_PW", "-o",
                       tmp_path / "h", env=env)
    assert code == 1 and "550" in err and os.listdir(tmp_path) == []
    code, out, _ = run("get", ftp_url(ftp_tls_required, "/hello.txt", scheme="ftps"), "--password-env", "FTP_PW",
                       "--cacert", pki.ca_file, "-", env=env)
    assert code == 0 and out == HELLO_CONTENT


def test_ftp_resume_with_rest(ftp_server, tmp_path):
    dest = tmp_path / "big.bin"
    (tmp_path / "big.bin.part").write_bytes(BIG_CONTENT[:300_000])
    before = ftp_server.log_file.read_text(errors="replace").count("REST 300000")
    code, _, _ = run("get", ftp_url(ftp_server, "/big.bin"), "--password-env", "FTP_PW", "-o", dest, "-c",
                     env=env_of(ftp_server))
    assert code == 0 and dest.read_bytes() == BIG_CONTENT and os.listdir(tmp_path) == ["big.bin"]
    assert ftp_server.log_file.read_text(errors="replace").count("REST 300000") == before + 1


def test_ftp_failures_leave_the_destination(ftp_server, tmp_path):
    dest = tmp_path / "x"
    dest.write_bytes(OLD)
    code, _, err = run("get", ftp_url(ftp_server, "/nope.txt"), "--password-env", "FTP_PW", "-o", dest,
                       env=env_of(ftp_server))
    assert code == 1 and "550" in err and "retry" not in err and dest.read_bytes() == OLD
    code, _, err = run("get", f"ftp://{ftp_server.user}:wrong@127.0.0.1:{ftp_server.port}/hello.txt", "-o", dest)
    assert code == 1 and "530" in err and dest.read_bytes() == OLD
    code, _, err = run("get", ftp_url(ftp_server, "/hello.txt"), "-o", dest)
    assert code == 2 and "password for user" in err and dest.read_bytes() == OLD
    assert os.listdir(tmp_path) == ["x"]


def test_ftp_cut_transfer_is_retried_with_rest(faulty_ftp, tmp_path):
    from tests.peers.faulty_ftp import FAULTY_FTP_BODY

    dest = tmp_path / "f.bin"
    code, _, err = run("get", faulty_ftp.url("cut-once-a.bin"), "-o", dest, "--retry-delay", "0")
    assert code == 0 and dest.read_bytes() == FAULTY_FTP_BODY and "426" in err and "retry 1 of 3" in err
    assert f"REST {len(FAULTY_FTP_BODY) // 2}" in faulty_ftp.commands
    assert dest.stat().st_mtime == 1577934245  # MDTM 20200102030405


def test_ftp_cut_every_time_or_short_leaves_the_destination(faulty_ftp, tmp_path):
    from tests.peers.faulty_ftp import FAULTY_FTP_BODY

    dest = tmp_path / "f.bin"
    dest.write_bytes(OLD)
    code, _, err = run("get", faulty_ftp.url("cut-always.bin"), "-o", dest, "--retry", "1", "--retry-delay", "0")
    assert code == 1 and "426" in err and dest.read_bytes() == OLD
    part = (tmp_path / "f.bin.part").read_bytes()
    assert FAULTY_FTP_BODY.startswith(part) and len(part) == len(FAULTY_FTP_BODY) * 3 // 4
    # 226 after half the file: the SIZE it announced says the transfer was short.
    (tmp_path / "f.bin.part").unlink()
    code, _, err = run("get", faulty_ftp.url("short.bin"), "-o", dest, "--retry", "0")
    assert code == 1 and f"of {len(FAULTY_FTP_BODY)} bytes" in err and dest.read_bytes() == OLD


def test_ftp_disk_full(ftp_server, tmp_path):
    with small_tmpfs(tmp_path / "small", "256k") as small:
        code, _, err = run("get", ftp_url(ftp_server, "/big.bin"), "--password-env", "FTP_PW", "-o",
                           small / "big.bin", env=env_of(ftp_server))
        assert code == 1 and "disk full" in err and not (small / "big.bin").exists()


# -- FTP put and mirror ------------------------------------------------------------------------

def test_ftp_put_goes_through_a_temporary_name(ftp_server, tmp_path):
    src = tmp_path / "up.bin"
    src.write_bytes(BIG_CONTENT[::-1])
    os.utime(src, (1_400_000_000, 1_400_000_000))
    name = f"up-{os.getpid()}.bin"
    try:
        code, _, err = run("put", src, ftp_url(ftp_server, f"/{name}"), "--password-env", "FTP_PW",
                           env=env_of(ftp_server))
        assert code == 0, err
        assert (ftp_server.home / name).read_bytes() == BIG_CONTENT[::-1]
        assert (ftp_server.home / name).stat().st_mtime == 1_400_000_000
        assert f".{name}.part" not in os.listdir(ftp_server.home)
        log = ftp_server.log_file.read_text(errors="replace")
        assert f"STOR .{name}.part" in log and f"RNTO {name}" in log
    finally:
        (ftp_server.home / name).unlink(missing_ok=True)
    code, _, err = run("put", src, ftp_url(ftp_server, "/pub/", user=False))
    assert code == 1 and "550" in err


def test_ftps_put_on_a_tls_only_server(ftp_tls_required, pki, tmp_path):
    src = tmp_path / "secret.txt"
    src.write_bytes(b"only over TLS\n")
    name = f"tls-{os.getpid()}.txt"
    try:
        code, _, err = run("put", src, ftp_url(ftp_tls_required, f"/{name}", scheme="ftps"), "--password-env",
                           "FTP_PW", "--cacert", pki.ca_file, env=env_of(ftp_tls_required))
        assert code == 0, err
        assert (ftp_tls_required.home / name).read_bytes() == b"only over TLS\n"
        code, _, err = run("put", src, ftp_url(ftp_tls_required, f"/{name}"), "--password-env", "FTP_PW",
                           env=env_of(ftp_tls_required))
        assert code == 1 and "550" in err
    finally:
        (ftp_tls_required.home / name).unlink(missing_ok=True)


def test_ftp_mirror_new_and_changed_only_with_globs(ftp_server, tmp_path):
    env = env_of(ftp_server)
    dest = tmp_path / "m"
    code, out, err = run("mirror", ftp_url(ftp_server, "/"), dest, "--password-env", "FTP_PW",
                         "--exclude", "big.bin", "--exclude", "up-*", "--exclude", "dated-*", env=env)
    assert code == 0, err
    assert (dest / "hello.txt").read_bytes() == HELLO_CONTENT
    assert (dest / "sub" / "nested.txt").read_bytes() == NESTED_CONTENT
    assert not (dest / "big.bin").exists()
    assert int((dest / "hello.txt").stat().st_mtime) == int((ftp_server.home / "hello.txt").stat().st_mtime)
    assert "copied hello.txt" in out.decode() and "2 copied" in out.decode()
    code, out, _ = run("mirror", ftp_url(ftp_server, "/"), dest, "--password-env", "FTP_PW", "--include", "*.txt",
                       env=env)
    assert code == 0 and out.decode().startswith("0 copied") and "2 unchanged" in out.decode()
    (dest / "hello.txt").write_bytes(b"changed locally\n")
    code, out, _ = run("mirror", ftp_url(ftp_server, "/"), dest, "--password-env", "FTP_PW", "--include",
                       "hello.txt", env=env)
    assert code == 0 and "1 copied" in out.decode() and (dest / "hello.txt").read_bytes() == HELLO_CONTENT


def test_ftp_mirror_upload(ftp_server, tmp_path):
    src = tmp_path / "site"
    (src / "css").mkdir(parents=True)
    (src / "index.html").write_bytes(b"<h1>hi</h1>\n")
    (src / "css" / "a.css").write_bytes(b"body{}\n")
    os.utime(src / "index.html", (1_300_000_000, 1_300_000_000))
    top = f"site-{os.getpid()}"
    try:
        code, out, err = run("mirror", src, ftp_url(ftp_server, f"/{top}/"), "--password-env", "FTP_PW",
                             env=env_of(ftp_server))
        assert code == 0, err
        remote = ftp_server.home / top
        assert (remote / "index.html").read_bytes() == b"<h1>hi</h1>\n"
        assert (remote / "css" / "a.css").read_bytes() == b"body{}\n"
        assert (remote / "index.html").stat().st_mtime == 1_300_000_000
        code, out, _ = run("mirror", src, ftp_url(ftp_server, f"/{top}/"), "--password-env", "FTP_PW",
                           env=env_of(ftp_server))
        assert code == 0 and "0 copied" in out.decode() and "2 unchanged" in out.decode()
    finally:
        import shutil

        shutil.rmtree(ftp_server.home / top, ignore_errors=True)


def _tree(top, files):
    for rel, data in files.items():
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_bytes(data)
        os.utime(top / rel, (1_500_000_000, 1_500_000_000))


def _files(top):
    return {str(p.relative_to(top)): p.read_bytes() for p in sorted(top.rglob("*")) if p.is_file()}


def test_ftp_mirror_dry_run_then_delete_as_rsync(ftp_server, tmp_path):
    import shutil

    top = f"tree-{os.getpid()}"
    source = {"a.log": b"a\n", "logs/b.log": b"b" * 5000, "logs/c.gz": b"\x1f\x8b"}
    _tree(ftp_server.home / top, source)
    dest = tmp_path / "copy"
    _tree(dest, {"a.log": b"a\n", "gone.log": b"old\n", "old/x.log": b"x\n", "keep.gz": b"excluded\n",
                 "z.log.part": b"zz"})
    before = _files(dest)
    url = ftp_url(ftp_server, f"/{top}/")
    env = env_of(ftp_server)
    try:
        code, out, err = run("mirror", url, dest, "--password-env", "FTP_PW", "--exclude", "*.gz", "--delete",
                             "--dry-run", env=env)
        assert code == 0, err
        assert out.decode().splitlines() == [
            "would copy logs/b.log (4.9 KiB)", "would delete gone.log", "would delete old/x.log",
            "dry run: 1 to copy (4.9 KiB), 1 unchanged, 2 to delete; nothing was changed"]
        assert _files(dest) == before
        code, out, err = run("mirror", url, dest, "--password-env", "FTP_PW", "--exclude", "*.gz", "--delete",
                             env=env)
        assert code == 0, err
        text = out.decode()
        assert "deleted gone.log" in text and "deleted old/x.log" in text
        assert text.endswith("1 copied (4.9 KiB), 1 unchanged, 2 deleted, 0 failed\n")
        # The excluded file and the .part stay; the directory the deletion emptied goes.
        assert _files(dest) == {"a.log": b"a\n", "keep.gz": b"excluded\n", "logs/b.log": b"b" * 5000,
                                "z.log.part": b"zz"}
        assert not (dest / "old").exists()
    finally:
        shutil.rmtree(ftp_server.home / top, ignore_errors=True)


def test_ftp_mirror_in_parallel_asks_only_what_the_listing_did_not_say(ftp_server, tmp_path):
    import shutil

    top = f"many-{os.getpid()}"
    source = {f"d{i % 3}/f{i:02}.log": os.urandom(1000 + i) for i in range(24)}
    _tree(ftp_server.home / top, source)
    dest = tmp_path / "copy"
    log = ftp_server.log_file
    start = len(log.read_bytes())
    try:
        code, out, err = run("mirror", ftp_url(ftp_server, f"/{top}/"), dest, "--password-env", "FTP_PW",
                             "-P", "4", env=env_of(ftp_server))
        assert code == 0, err
        assert _files(dest) == source
        assert all(int((dest / rel).stat().st_mtime) == 1_500_000_000 for rel in source)
        assert out.decode().endswith("24 copied (23.7 KiB), 0 unchanged, 0 failed\n")
        run_log = log.read_bytes()[start:].decode(errors="replace")
        assert run_log.count("logged in") == 4  # four connections shared the 24 files
        assert run_log.count("<- RETR") == 24
        assert "<- SIZE" not in run_log and "<- MDTM" not in run_log  # MLSD said both
    finally:
        shutil.rmtree(ftp_server.home / top, ignore_errors=True)


def test_mirror_failure_turns_deletion_off(ftp_server, tmp_path):
    import shutil

    top = f"fail-{os.getpid()}"
    _tree(ftp_server.home / top, {"ok.txt": b"ok\n", "blocked.txt": b"cannot land\n"})
    dest = tmp_path / "copy"
    _tree(dest, {"extra.txt": b"the source does not have me\n"})
    (dest / "blocked.txt").mkdir()  # a directory where the file must go: its rename fails
    try:
        code, out, err = run("mirror", ftp_url(ftp_server, f"/{top}/"), dest, "--password-env", "FTP_PW",
                             "--delete", env=env_of(ftp_server))
        assert code == 1
        assert "blocked.txt" in err and "not deleting 1 file(s) the source does not have: 1 failed" in err
        assert (dest / "extra.txt").read_bytes() == b"the source does not have me\n"
        assert (dest / "ok.txt").read_bytes() == b"ok\n"
        assert out.decode().endswith("1 copied (3 B), 0 unchanged, 0 deleted, 1 failed\n")
        code, out, err = run("mirror", ftp_url(ftp_server, f"/{top}/"), dest, "--password-env", "FTP_PW",
                             "--delete", "--json", env=env_of(ftp_server))
        import json

        record = json.loads(out)
        assert code == 1 and out.count(b"\n") == 1 and "not deleting 1 file(s)" in err
        assert record["ok"] is False and record["copied"] == [] and record["unchanged"] == 1
        assert record["kept"] == ["extra.txt"] and record["deleted"] == []
        assert [f["path"] for f in record["failed"]] == ["blocked.txt"] and record["failed"][0]["error"]
    finally:
        shutil.rmtree(ftp_server.home / top, ignore_errors=True)


# -- SFTP ------------------------------------------------------------------------------------------

def test_sftp_get_resume_and_host_key_check(sshd, tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    data = os.urandom(3 * 1024 * 1024 + 123)
    (remote / "file.bin").write_bytes(data)
    os.utime(remote / "file.bin", (1_200_000_000, 1_200_000_000))
    local = tmp_path / "local"
    local.mkdir()
    code, _, err = run("get", sftp_url(sshd, f"{remote}/file.bin"), *sftp_args(sshd), cwd=local)
    assert code == 0, err
    assert (local / "file.bin").read_bytes() == data and (local / "file.bin").stat().st_mtime == 1_200_000_000
    (local / "again.part").write_bytes(data[:1_000_000])
    code, _, err = run("get", sftp_url(sshd, f"{remote}/file.bin"), *sftp_args(sshd), "-o", local / "again", "-c")
    assert code == 0 and (local / "again").read_bytes() == data, err
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    code, _, err = run("get", sftp_url(sshd, f"{remote}/file.bin"), "--identity", sshd.client_key,
                       "--known-hosts", empty, "-o", local / "nokey")
    assert code == 1 and "host key" in err and not (local / "nokey").exists()
    code, _, err = run("get", sftp_url(sshd, f"{remote}/missing"), *sftp_args(sshd), "-o", local / "m")
    assert code == 1 and "no such file" in err and not (local / "m").exists()
    assert sorted(os.listdir(local)) == ["again", "file.bin"]


def test_sftp_put_is_atomic_and_keeps_time(sshd, tmp_path):
    src = tmp_path / "up.bin"
    data = os.urandom(2 * 1024 * 1024)
    src.write_bytes(data)
    os.utime(src, (1_100_000_000, 1_100_000_000))
    target = tmp_path / "remote"
    target.mkdir()
    (target / "up.bin").write_bytes(OLD)
    code, _, err = run("put", src, sftp_url(sshd, f"{target}/"), *sftp_args(sshd))
    assert code == 0, err
    assert (target / "up.bin").read_bytes() == data and (target / "up.bin").stat().st_mtime == 1_100_000_000
    assert os.listdir(target) == ["up.bin"]
    code, _, err = run("put", src, sftp_url(sshd, f"{tmp_path}/no/such/dir/x"), *sftp_args(sshd))
    assert code == 1 and "no such file" in err


def test_sftp_mirror_both_ways(sshd, tmp_path):
    logs = tmp_path / "var-log"
    (logs / "nginx").mkdir(parents=True)
    (logs / "syslog").write_bytes(b"syslog line\n" * 1000)
    (logs / "auth.log").write_bytes(b"auth line\n")
    (logs / "nginx" / "access.log").write_bytes(b"GET /\n" * 100)
    (logs / "nginx" / "access.log.1.gz").write_bytes(b"\x1f\x8b old")
    stamp = time.time() - 3600
    for p in (logs / "syslog", logs / "auth.log", logs / "nginx" / "access.log"):
        os.utime(p, (stamp, stamp))
    dest = tmp_path / "copy"
    code, out, err = run("mirror", sftp_url(sshd, f"{logs}/"), dest, *sftp_args(sshd), "--include", "*.log",
                         "--include", "syslog")
    assert code == 0, err
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == [
        "auth.log", "nginx/access.log", "syslog"]
    assert (dest / "syslog").read_bytes() == (logs / "syslog").read_bytes()
    assert int((dest / "nginx" / "access.log").stat().st_mtime) == int(stamp)
    (logs / "auth.log").write_bytes(b"auth line\nanother\n")
    code, out, _ = run("mirror", sftp_url(sshd, f"{logs}/"), dest, *sftp_args(sshd), "--exclude", "*.gz")
    text = out.decode()
    assert code == 0 and "copied auth.log" in text and "1 copied" in text and "2 unchanged" in text
    assert (dest / "auth.log").read_bytes() == b"auth line\nanother\n"
    back = tmp_path / "back"
    code, out, err = run("mirror", dest, sftp_url(sshd, f"{back}/"), *sftp_args(sshd))
    assert code == 0, err
    assert (back / "nginx" / "access.log").read_bytes() == (logs / "nginx" / "access.log").read_bytes()
    assert int((back / "syslog").stat().st_mtime) == int(stamp)
    assert not any(p.name.endswith(".part") for p in back.rglob("*"))
    # Upload with --delete: what the local side no longer has goes from the server.
    (back / "stale.log").write_bytes(b"stale\n")
    (dest / "syslog").unlink()
    code, out, err = run("mirror", dest, sftp_url(sshd, f"{back}/"), *sftp_args(sshd), "--delete", "-P", "3")
    assert code == 0, err
    assert sorted(out.decode().splitlines()[:-1]) == ["deleted stale.log", "deleted syslog"]
    assert sorted(str(p.relative_to(back)) for p in back.rglob("*") if p.is_file()) == [
        "auth.log", "nginx/access.log"]


def test_sftp_cut_connection_is_retried_from_the_offset(sshd, tmp_path):
    import signal
    import subprocess
    import sys

    data = os.urandom(3 * 1024 * 1024)
    (tmp_path / "src.bin").write_bytes(data)
    dest = tmp_path / "dst.bin"
    master = int((sshd.directory / "sshd.pid").read_text())
    before = set(_descendants(master))
    proc = subprocess.Popen([sys.executable, "-m", "netkit", "get", sftp_url(sshd, f"{tmp_path}/src.bin"),
                             *sftp_args(sshd), "-o", dest, "--limit-rate", "1M", "--retry", "2", "--retry-delay", "0"],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (dest.with_name("dst.bin.part").exists()
                                               and dest.with_name("dst.bin.part").stat().st_size > 500_000):
        time.sleep(0.05)
    for pid in set(_descendants(master)) - before:  # the session's sshd processes: the connection dies
        os.kill(pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err and "retry 1 of 2" in err
    assert "connection lost" in err or "connection closed" in err or "reset" in err
    assert dest.read_bytes() == data


def _descendants(pid):
    children = _children(pid)
    return children + [d for c in children for d in _descendants(c)]


def _children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rindex(b")") + 2:].split()[1]) == pid:
                found.append(int(entry))
    return found


def _started(part) -> bool:
    """A transfer into ``part`` has begun: it exists and holds bytes."""
    try:
        return part.stat().st_size > 0
    except FileNotFoundError:
        return False


def test_sftp_ctrl_c_keeps_the_part_and_the_destination(sshd, tmp_path):
    from tests.helpers import interrupted

    data = os.urandom(4 * 1024 * 1024)
    (tmp_path / "src.bin").write_bytes(data)
    dest = tmp_path / "dst.bin"
    dest.write_bytes(OLD)
    code, _, err = interrupted("get", sftp_url(sshd, f"{tmp_path}/src.bin"), *sftp_args(sshd), "-o", dest,
                               "--limit-rate", "1M", after=2, ready=lambda: _started(tmp_path / "dst.bin.part"))
    assert code == 130 and err.strip().endswith("interrupted") and "Traceback" not in err
    assert dest.read_bytes() == OLD
    part = (tmp_path / "dst.bin.part").read_bytes()
    assert 0 < len(part) < len(data) and data.startswith(part)
    code, _, _ = run("get", sftp_url(sshd, f"{tmp_path}/src.bin"), *sftp_args(sshd), "-o", dest, "-c")
    assert code == 0 and dest.read_bytes() == data


def test_sftp_mirror_ctrl_c_stops_every_worker(sshd, tmp_path):
    from tests.helpers import interrupted

    remote = tmp_path / "remote"
    data = {f"f{i}.bin": os.urandom(3 * 1024 * 1024) for i in range(3)}
    _tree(remote, data)
    dest = tmp_path / "copy"
    code, out, err = interrupted("mirror", sftp_url(sshd, f"{remote}/"), dest, *sftp_args(sshd), "-P", "3",
                                 "--limit-rate", "1M", after=2,
                                 ready=lambda: all(_started(dest / f"{name}.part") for name in data))
    assert code == 130 and err.strip().endswith("interrupted") and "Traceback" not in err
    names = sorted(os.listdir(dest))
    assert names == ["f0.bin.part", "f1.bin.part", "f2.bin.part"]  # three at once, none complete
    for name in names:
        part = (dest / name).read_bytes()
        assert 0 < len(part) < len(data[name[:-5]]) and data[name[:-5]].startswith(part)
    code, out, err = run("mirror", sftp_url(sshd, f"{remote}/"), dest, *sftp_args(sshd), "-c")
    assert code == 0, err
    assert _files(dest) == data


def test_mirror_progress_on_a_terminal_and_not_in_a_pipe(sshd, tmp_path):
    remote = tmp_path / "remote"
    data = {f"f{i}.bin": os.urandom(400_000) for i in range(4)}
    _tree(remote, data)
    args = ("mirror", sftp_url(sshd, f"{remote}/"), *sftp_args(sshd), "-P", "2", "--limit-rate", "1M")
    code, text = run_on_pty(*args, tmp_path / "tty")
    assert code == 0 and _files(tmp_path / "tty") == data
    # Two rows at once, redrawn in place; each finished row goes and "copied NAME" is
    # printed above the others, so the screen ends with the four of them and the summary.
    assert "\x1b[1A" in text and "%" in text and "ETA" in text
    shown = screen(text, 80)
    assert sorted(shown[:4]) == [f"copied {name} (390.6 KiB)" for name in sorted(data)]
    assert shown[4:] == ["4 copied (1.5 MiB), 0 unchanged, 0 failed"]
    code, out, err = run(*args, tmp_path / "pipe")
    assert code == 0 and err == "" and "\x1b" not in out.decode()
    assert sorted(out.decode().splitlines()) == sorted(
        [f"copied {name} (390.6 KiB)" for name in data] + ["4 copied (1.5 MiB), 0 unchanged, 0 failed"])
