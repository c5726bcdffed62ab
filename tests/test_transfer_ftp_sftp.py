"""netkit get/put/mirror over ftp://, ftps:// (pyftpdlib) and sftp:// (OpenSSH's sshd)."""

import os
import time

from tests.peers.ftp import BIG_CONTENT, HELLO_CONTENT, NESTED_CONTENT, README_CONTENT
from tests.peers.transfer_tools import run, small_tmpfs

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


def test_sftp_ctrl_c_keeps_the_part_and_the_destination(sshd, tmp_path):
    from tests.helpers import interrupted

    data = os.urandom(4 * 1024 * 1024)
    (tmp_path / "src.bin").write_bytes(data)
    dest = tmp_path / "dst.bin"
    dest.write_bytes(OLD)
    code, _, err = interrupted("get", sftp_url(sshd, f"{tmp_path}/src.bin"), *sftp_args(sshd), "-o", dest,
                               "--limit-rate", "1M", after=2)
    assert code == 130 and err.strip().endswith("interrupted") and "Traceback" not in err
    assert dest.read_bytes() == OLD
    part = (tmp_path / "dst.bin.part").read_bytes()
    assert 0 < len(part) < len(data) and data.startswith(part)
    code, _, _ = run("get", sftp_url(sshd, f"{tmp_path}/src.bin"), *sftp_args(sshd), "-o", dest, "-c")
    assert code == 0 and dest.read_bytes() == data
