"""--max-filesize SIZE (as curl's) for get and mirror: a file whose announced size (HTTP
Content-Length, FTP SIZE) is over the limit is refused at once; one whose written bytes
(decoded, with --compressed) pass it is stopped there. Either way: exit 1, one line naming
the limit, no destination and no .part left, no retry.

The peers: tests/peers/hostile_maxsize_http.py (a gzip bomb, a Content-Length over the
limit with no body behind it, endless chunked bodies) and pyftpdlib (tests/peers/ftp.py)."""

from tests.peers.hostile_maxsize_http import ANNOUNCED, BOMB_SIZE
from tests.peers.transfer_tools import run

MIB = 1024 * 1024


def one_line(err):
    return len(err.strip().splitlines()) == 1


def nothing_left(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir()) == []


# -- http:// ----------------------------------------------------------------------------------

def test_gzip_bomb_with_compressed_stops_at_the_limit(maxsize_http, tmp_path):
    code, _, err = run("get", maxsize_http.url("/bomb"), "--compressed", "--max-filesize", "1M", "--retry", "3",
                       "-o", tmp_path / "out", timeout=30)
    assert code == 1 and one_line(err), err
    assert "over --max-filesize 1048576 (1.0 MiB)" in err and "stopped after" in err and "retry" not in err, err
    assert nothing_left(tmp_path)
    assert maxsize_http.requests["/bomb"] == 1


def test_gzip_bomb_within_the_limit_is_kept_whole(maxsize_http, tmp_path):
    # The same bomb with a limit above its decoded size: decoded in bounded blocks, all of it.
    code, _, err = run("get", maxsize_http.url("/bomb"), "--compressed", "--max-filesize", "65M",
                       "-o", tmp_path / "out", timeout=60)
    assert code == 0, err
    assert (tmp_path / "out").stat().st_size == BOMB_SIZE


def test_gzip_bomb_not_decoded_is_its_wire_size(maxsize_http, tmp_path):
    # Without --compressed the file is what was sent (some 64 KiB): under the limit.
    code, _, err = run("get", maxsize_http.url("/bomb"), "--max-filesize", "1M", "-o", tmp_path / "out")
    assert code == 0, err
    assert (tmp_path / "out").stat().st_size == len(maxsize_http.bomb) < MIB


def test_endless_gzip_body_is_stopped(maxsize_http, tmp_path):
    code, _, err = run("get", maxsize_http.url("/endless-bomb"), "--compressed", "--max-filesize", "2M",
                       "-o", tmp_path / "out", timeout=30)
    assert code == 1 and one_line(err) and "over --max-filesize 2097152" in err, err
    assert nothing_left(tmp_path)


def test_content_length_over_the_limit_is_refused_at_once(maxsize_http, tmp_path):
    # The body never comes: a client that waited for it would hit --timeout 60, after run's 20.
    code, _, err = run("get", maxsize_http.url("/announced"), "--max-filesize", "1M", "--timeout", "60",
                       "--retry", "3", "-o", tmp_path / "out", timeout=20)
    assert code == 1 and one_line(err), err
    assert f"the file is {ANNOUNCED} bytes (3.0 MiB), over --max-filesize 1048576 (1.0 MiB)" in err, err
    assert nothing_left(tmp_path)
    assert maxsize_http.requests["/announced"] == 1


def test_endless_chunked_body_is_stopped_and_the_part_removed(maxsize_http, tmp_path):
    code, _, err = run("get", maxsize_http.url("/endless"), "--max-filesize", "1M", "--retry", "2",
                       "-o", tmp_path / "out", timeout=30)
    assert code == 1 and one_line(err) and "over --max-filesize 1048576" in err and "retry" not in err, err
    assert nothing_left(tmp_path)


def test_bad_sizes_are_usage_errors(tmp_path):
    for bad in ("0", "ten", "-1M", "1e999"):
        code, _, err = run("get", "http://127.0.0.1:9/x", "--max-filesize", bad, "-o", tmp_path / "out")
        assert code == 2 and one_line(err) and "--max-filesize" in err, (bad, err)


def test_mirror_upload_refuses_max_filesize(tmp_path):
    code, _, err = run("mirror", tmp_path, "ftp://127.0.0.1:9/x/", "--max-filesize", "1M")
    assert code == 2 and one_line(err) and "--max-filesize" in err, err


# -- ftp:// -----------------------------------------------------------------------------------

def ftp(server, path):
    return f"ftp://{server.user}@127.0.0.1:{server.port}{path}"


def test_ftp_size_over_the_limit_is_refused_before_retr(ftp_server, tmp_path):
    start = ftp_server.log_file.stat().st_size  # the log is the session's: read only this test's part
    code, _, err = run("get", ftp(ftp_server, "/big.bin"), "--password-env", "FTP_PW", "--max-filesize", "100k",
                       "-o", tmp_path / "out", env={"FTP_PW": ftp_server.password})
    assert code == 1 and one_line(err), err
    assert "the file is 1048576 bytes (1.0 MiB), over --max-filesize 102400 (100.0 KiB)" in err, err
    assert nothing_left(tmp_path)
    # The size said it: the file itself was never asked for.
    with open(ftp_server.log_file, "rb") as f:
        f.seek(start)
        log = f.read().decode(errors="replace")
    assert "SIZE" in log and "RETR" not in log, log


def test_ftp_within_the_limit_arrives(ftp_server, tmp_path):
    code, _, err = run("get", ftp(ftp_server, "/big.bin"), "--password-env", "FTP_PW", "--max-filesize", "1M",
                       "-o", tmp_path / "out", env={"FTP_PW": ftp_server.password})
    assert code == 0, err
    assert (tmp_path / "out").stat().st_size == MIB


def test_ftp_mirror_refuses_each_file_over_the_limit_and_copies_the_rest(ftp_server, tmp_path):
    dest = tmp_path / "m"
    code, _, err = run("mirror", ftp(ftp_server, "/"), dest, "--password-env", "FTP_PW", "--include", "hello.txt",
                         "--include", "big.bin", "--max-filesize", "100k", env={"FTP_PW": ftp_server.password})
    assert code == 1, err
    assert "big.bin" in err and "over --max-filesize 102400" in err and one_line(err), err
    assert (dest / "hello.txt").exists()
    assert sorted(p.name for p in dest.iterdir()) == ["hello.txt"]


# -- sftp:// ----------------------------------------------------------------------------------

def test_sftp_stat_over_the_limit_is_refused_and_within_arrives(sshd, tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "file.bin").write_bytes(bytes(2 * MIB))
    local = tmp_path / "local"
    local.mkdir()
    url = f"sftp://{sshd.user}@{sshd.host}:{sshd.port}{remote}/file.bin"
    keys = ("--identity", sshd.client_key, "--known-hosts", sshd.known_hosts)
    code, _, err = run("get", url, *keys, "--max-filesize", "1M", "-o", local / "out")
    assert code == 1 and one_line(err), err
    assert "the file is 2097152 bytes (2.0 MiB), over --max-filesize 1048576 (1.0 MiB)" in err, err
    assert nothing_left(local)
    code, _, err = run("get", url, *keys, "--max-filesize", "2M", "-o", local / "out")
    assert code == 0 and (local / "out").stat().st_size == 2 * MIB, err
