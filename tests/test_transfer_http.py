"""netkit get/put over http:// and https:// against nginx, tinyproxy and a faulty server:
atomic .part + rename, resume, retries, checksums, and every fault leaving the destination
byte for byte as it was."""

import gzip
import hashlib
import os

from tests.peers.faulty_http import ETAG, FAULTY_BODY
from tests.peers.nginx import BIG_SIZE, INDEX_BODY, SECRET_BODY
from tests.peers.terminal import screen
from tests.peers.transfer_tools import run, run_on_pty, small_tmpfs

OLD = b"the previous version, which must survive\n"
BIG = b"x" * BIG_SIZE


def sha256(data):
    return "sha256=" + hashlib.sha256(data).hexdigest()


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir())


# -- plain downloads ------------------------------------------------------------------------

def test_get_writes_the_remote_name_and_leaves_no_part(nginx, tmp_path):
    code, out, err = run("get", nginx.url("/big"), cwd=tmp_path)
    assert code == 0 and out == b"" and err == ""
    assert (tmp_path / "big").read_bytes() == BIG
    assert leftovers(tmp_path) == ["big"]


def test_plain_download_leaves_the_heavy_modules_unimported(nginx, tmp_path):
    # Start-up is part of every download's time: a plain http:// get needs neither the
    # socket module (its enums), ssl, nor the date modules.
    import subprocess
    import sys

    code = ("import sys; from netkit.cli.main import main; "
            f"rc = main(['get', {nginx.url('/big')!r}, '-o', 'out', '-q']); "
            "print(rc, sorted(m for m in ('socket', 'ssl', 'calendar', 'datetime', 'email') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    assert out.split(None, 1) == ["0", "[]\n"]
    assert (tmp_path / "out").read_bytes() == BIG


def test_get_https_verifies_the_certificate(nginx, pki, tmp_path):
    dest = tmp_path / "index.html"
    code, _, err = run("get", nginx.url("/", "https"), "-o", dest)
    assert code == 1 and "did not verify" in err and not dest.exists()
    code, _, err = run("get", nginx.url("/", "https"), "-o", dest, "--cacert", pki.ca_file)
    assert code == 0 and dest.read_bytes() == INDEX_BODY
    code, out, _ = run("get", nginx.url("/big", "https", host="::1"), "-k", "-")
    assert code == 0 and out == BIG


def test_get_to_stdout_and_several_urls_at_once(nginx, tmp_path):
    code, out, _ = run("get", nginx.url("/chunked"), "-")
    assert code == 0 and out == b"<html><body>hello chunked</body></html>\n"
    code, _, err = run("get", nginx.url("/big"), nginx.url("/redirect"), nginx.url("/status/404"),
                       nginx.url("/auth/"), "-o", "a", "-o", "b", "-o", "c", "-o", "d", cwd=tmp_path)
    assert code == 1
    assert (tmp_path / "a").read_bytes() == BIG and (tmp_path / "b").read_bytes() == INDEX_BODY
    assert "404 Not Found" in err and "401" in err and err.count("\n") == 2
    assert leftovers(tmp_path) == ["a", "b"]
    code, _, _ = run("get", "-P", "2", "--output-dir", "dl", nginx.url("/big"), nginx.url("/"), cwd=tmp_path)
    assert code == 0 and leftovers(tmp_path / "dl") == ["big", "index.html"]
    assert (tmp_path / "dl" / "index.html").read_bytes() == INDEX_BODY


def test_redirect_limit_and_head(nginx, tmp_path):
    code, _, err = run("get", nginx.url("/r1"), "--max-redirects", "1", "-o", tmp_path / "x")
    assert code == 1 and "more than 1 redirects" in err and not (tmp_path / "x").exists()
    code, out, _ = run("get", nginx.url("/r1"), "-")
    assert code == 0 and out == INDEX_BODY
    code, out, _ = run("get", "-I", nginx.url("/headers"))
    text = out.decode()
    assert code == 0 and text.startswith("HTTP/1.1 200 OK\r\n") and "X-Netkit: yes\r\n" in text
    assert text.endswith("\r\n\r\n") and "headers\n" not in text


def test_form_data_by_post_and_get_and_user_agent(nginx):
    code, out, _ = run("get", nginx.url("/echo"), "-d", "a=1", "-d", "a=2", "-d", "ville=Orléans", "-")
    text = out.decode()
    assert code == 0 and "method=POST" in text and "body=a=1&a=2&ville=Orl%C3%A9ans" in text
    assert "ctype=application/x-www-form-urlencoded" in text and "ua=netkit/" in text
    code, out, _ = run("get", nginx.url("/echo?x=0"), "-G", "-d", "q=a b", "-A", "backup/1.0", "-H",
                       "X-Test: yes", "-")
    text = out.decode()
    assert code == 0 and "method=GET" in text and "uri=/echo?x=0&q=a+b" in text
    assert "ua=backup/1.0" in text and "xtest=yes" in text


def test_basic_auth_from_url_option_env_and_netrc(nginx, tmp_path):
    url = nginx.url("/auth/")
    code, out, _ = run("get", url.replace("http://", f"http://admin:{nginx.password}@"), "-")
    assert code == 0 and out == SECRET_BODY
    code, out, _ = run("get", url, "-u", "admin", "--password-env", "PW", "-", env={"PW": nginx.password})
    assert code == 0 and out == SECRET_BODY
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login admin password {nginx.password}\n")
    netrc.chmod(0o600)
    code, out, _ = run("get", url, "-", env={"NETRC": str(netrc)})
    assert code == 0 and out == SECRET_BODY
    code, out, err = run("get", url, "-u", "admin:wrong", "-")
    assert code == 1 and "401" in err and out == b""


def test_proxy_from_environment_and_option(nginx, http_proxy, pki, tmp_path):
    code, out, _ = run("get", nginx.url("/big?via=env"), "-", env={"http_proxy": http_proxy.url})
    assert code == 0 and out == BIG
    http_proxy.wait_for_log("/big?via=env")
    code, out, _ = run("get", nginx.url("/?via=option"), "--proxy", http_proxy.url, "-")
    assert code == 0 and out == INDEX_BODY
    http_proxy.wait_for_log("/?via=option")
    # https through the proxy: a CONNECT tunnel, the certificate checked end to end.
    code, _, _ = run("get", nginx.url("/big", "https", host="localhost"), "--cacert", pki.ca_file, "-o",
                     tmp_path / "big", env={"https_proxy": http_proxy.url})
    assert code == 0 and (tmp_path / "big").read_bytes() == BIG
    http_proxy.wait_for_log(f"CONNECT localhost:{nginx.https_port}")
    code, out, _ = run("get", nginx.url("/"), "--noproxy", "-", env={"http_proxy": "http://127.0.0.1:9"})
    assert code == 0 and out == INDEX_BODY


def test_compressed_only_when_asked(faulty_http):
    code, out, _ = run("get", faulty_http.url("/gzip"), "-")
    assert code == 0 and out != FAULTY_BODY and gzip.decompress(out) == FAULTY_BODY
    code, out, _ = run("get", faulty_http.url("/gzip"), "--compressed", "-")
    assert code == 0 and out == FAULTY_BODY


def test_file_url(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(FAULTY_BODY)
    os.utime(src, (1_600_000_000, 1_600_000_000))
    code, _, _ = run("get", f"file://{src}", "-o", tmp_path / "copy")
    assert code == 0 and (tmp_path / "copy").read_bytes() == FAULTY_BODY
    assert (tmp_path / "copy").stat().st_mtime == 1_600_000_000
    code, _, err = run("get", f"file://{tmp_path}/nope", "-o", tmp_path / "n")
    assert code == 1 and "no such file" in err and not (tmp_path / "n").exists()


# -- checksums -------------------------------------------------------------------------------

def test_checksum_verified_before_the_rename(nginx, tmp_path):
    dest = tmp_path / "big"
    code, _, _ = run("get", nginx.url("/big"), "-o", dest, "--checksum", sha256(BIG))
    assert code == 0 and dest.read_bytes() == BIG
    dest.write_bytes(OLD)
    code, _, err = run("get", nginx.url("/big"), "-o", dest, "--checksum", sha256(b"other"))
    assert code == 1 and "sha256 of the data is" in err
    assert dest.read_bytes() == OLD and leftovers(tmp_path) == ["big"]
    md5 = "md5=" + hashlib.md5(BIG).hexdigest()
    code, _, _ = run("get", nginx.url("/big"), "-o", dest, "--checksum", md5)
    assert code == 0 and dest.read_bytes() == BIG


# -- faults ----------------------------------------------------------------------------------

def test_cut_mid_body_retries_from_where_it_stopped(faulty_http, tmp_path):
    import json

    dest = tmp_path / "f"
    code, out, err = run("get", faulty_http.url("/cut/retry"), faulty_http.url("/status/x"), "-o", dest, "-o",
                         tmp_path / "x", "--retry-delay", "0", "--json")
    assert code == 1 and dest.read_bytes() == FAULTY_BODY and "retry 1 of 3" in err
    ok, failed = [json.loads(line) for line in out.decode().splitlines()]
    assert ok == {"url": faulty_http.url("/cut/retry"), "file": str(dest), "ok": True, "bytes": len(FAULTY_BODY),
                  "received": len(FAULTY_BODY), "seconds": ok["seconds"], "attempts": 2, "resumed_from": 0,
                  "restarted": False, "status": 206}
    assert failed["ok"] is False and "404" in failed["error"] and failed["error_kind"] == "HTTPStatusError"
    ranges = [r for m, p, r in faulty_http.requests if p == "/cut/retry"]
    assert ranges == [None, f"bytes={len(FAULTY_BODY) // 2}-"]


def test_cut_every_time_leaves_destination_and_a_part_to_resume(faulty_http, tmp_path):
    dest = tmp_path / "f"
    dest.write_bytes(OLD)
    code, _, err = run("get", faulty_http.url("/cut-always"), "-o", dest, "--retry", "1", "--retry-delay", "0")
    assert code == 1 and "connection closed after" in err and err.count("\n") == 2
    assert dest.read_bytes() == OLD
    part = (tmp_path / "f.part").read_bytes()
    assert len(part) == len(FAULTY_BODY) * 3 // 4 and FAULTY_BODY.startswith(part)
    # The next day: -c resumes the .part from a server that behaves.
    code, _, _ = run("get", faulty_http.url("/ok"), "-o", dest, "-c")
    assert code == 0 and dest.read_bytes() == FAULTY_BODY and leftovers(tmp_path) == ["f"]
    assert faulty_http.requests[-1] == ("GET", "/ok", f"bytes={len(part)}-")


def test_resume_sends_if_range_and_without_c_starts_over(faulty_http, tmp_path):
    dest = tmp_path / "f"
    (tmp_path / "f.part").write_bytes(b"garbage that -c was not asked to keep")
    code, _, _ = run("get", faulty_http.url("/ok"), "-o", dest)
    assert code == 0 and dest.read_bytes() == FAULTY_BODY
    assert faulty_http.requests[-1] == ("GET", "/ok", None)
    (tmp_path / "g.part").write_bytes(FAULTY_BODY[:1000])
    os.setxattr(tmp_path / "g.part", "user.netkit.validator", ETAG.encode())
    code, _, _ = run("get", faulty_http.url("/ok"), "-o", tmp_path / "g", "-c")
    assert code == 0 and (tmp_path / "g").read_bytes() == FAULTY_BODY
    assert faulty_http.requests[-1][2] == "bytes=1000-"


def test_resume_of_a_complete_part_only_renames_it(nginx, tmp_path):
    (tmp_path / "big.part").write_bytes(BIG)
    code, _, err = run("get", nginx.url("/big"), "-o", tmp_path / "big", "-c", "--checksum", sha256(BIG))
    assert code == 0 and (tmp_path / "big").read_bytes() == BIG and leftovers(tmp_path) == ["big"], err


def test_server_ignoring_range_restarts_instead_of_corrupting(faulty_http, tmp_path):
    dest = tmp_path / "f"
    (tmp_path / "f.part").write_bytes(b"\0" * 5000)  # not a prefix of the file
    code, _, _ = run("get", faulty_http.url("/norange"), "-o", dest, "-c")
    assert code == 0 and dest.read_bytes() == FAULTY_BODY
    assert faulty_http.requests[-1] == ("GET", "/norange", "bytes=5000-")


def test_wrong_content_range_and_lying_content_length(faulty_http, tmp_path):
    dest = tmp_path / "f"
    dest.write_bytes(OLD)
    (tmp_path / "f.part").write_bytes(FAULTY_BODY[:100])
    code, _, err = run("get", faulty_http.url("/badrange"), "-o", dest, "-c")
    assert code == 1 and "Content-Range" in err and dest.read_bytes() == OLD
    code, _, err = run("get", faulty_http.url("/lie"), "-o", dest, "--retry", "1", "--retry-delay", "0")
    assert code == 1 and f"of {1024 * 1024} bytes" in err and dest.read_bytes() == OLD
    # A Content-Length shorter than the body: the checksum catches it.
    code, _, err = run("get", faulty_http.url("/long"), "-o", dest, "--checksum", sha256(FAULTY_BODY))
    assert code == 1 and "sha256" in err and dest.read_bytes() == OLD


def test_retry_after_is_honoured_and_retries_run_out(faulty_http, tmp_path):
    code, out, err = run("get", faulty_http.url("/busy/once"), "-", "--retry-delay", "0")
    assert code == 0 and out == FAULTY_BODY and "503 Service Unavailable; retry 1 of 3 in 1 s" in err
    before = len(faulty_http.requests)
    code, out, err = run("get", faulty_http.url("/always503"), "-o", tmp_path / "x", "--retry", "2",
                         "--retry-delay", "0")
    assert code == 1 and out == b"" and not (tmp_path / "x").exists() and leftovers(tmp_path) == []
    assert len(faulty_http.requests) - before == 3


def test_refused_and_not_found_fail_at_once(nginx, tmp_path):
    from tests.peers._base import free_port

    code, _, err = run("get", f"http://127.0.0.1:{free_port()}/x", "-o", tmp_path / "x")
    assert code == 1 and "refused" in err and "retry" not in err
    code, _, err = run("get", nginx.url("/status/404"), "-o", tmp_path / "x")
    assert code == 1 and "retry" not in err and leftovers(tmp_path) == []


def test_idle_timeout_mid_body_then_retry_resumes(faulty_http, nginx, tmp_path):
    dest = tmp_path / "s"
    code, _, err = run("get", faulty_http.url("/stall"), "-o", dest, "--timeout", "0.5", "--retry", "1",
                       "--retry-delay", "0")
    assert code == 1 and "timeout" in err and "retry 1 of 1" in err and not dest.exists()
    assert (tmp_path / "s.part").read_bytes() == b"z" * (64 * 1024)
    assert faulty_http.requests[-1] == ("GET", "/stall", f"bytes={64 * 1024}-")
    # nginx's /stall is chunked: the parser's path times out the same way.
    code, _, err = run("get", nginx.url("/stall"), "-o", tmp_path / "c", "--timeout", "0.5", "--retry", "0")
    assert code == 1 and "timeout" in err and not (tmp_path / "c").exists()


def test_disk_full_leaves_destination_untouched(nginx, tmp_path):
    with small_tmpfs(tmp_path / "small", "512k") as small:
        dest = small / "big"
        dest.write_bytes(OLD)
        code, _, err = run("get", nginx.url("/big"), "-o", dest)
        assert code == 1 and "disk full" in err and err.count("\n") == 1
        assert dest.read_bytes() == OLD


def test_ctrl_c_stops_cleanly_and_keeps_the_part(faulty_http, tmp_path):
    from tests.helpers import interrupted

    dest = tmp_path / "slow"
    dest.write_bytes(OLD)
    code, _, err = interrupted("get", faulty_http.url("/slow"), "-o", dest, after=1.5)
    assert code == 130 and err.strip().endswith("interrupted") and "Traceback" not in err
    assert dest.read_bytes() == OLD
    part = (tmp_path / "slow.part").read_bytes()
    assert 0 < len(part) < 1024 * 1024 and set(part) == {ord("s")}


def test_ctrl_c_stops_every_concurrent_download(faulty_http, tmp_path):
    from tests.helpers import interrupted

    code, _, err = interrupted("get", faulty_http.url("/slow"), faulty_http.url("/slow"), "-o", tmp_path / "a",
                               "-o", tmp_path / "b", after=1.5)
    assert code == 130 and err.strip().endswith("interrupted")
    assert sorted(os.listdir(tmp_path)) == ["a.part", "b.part"]
    assert all(0 < (tmp_path / n).stat().st_size < 1024 * 1024 for n in ("a.part", "b.part"))


def test_lossy_namespace_link_delivers_every_byte(testnet, tmp_path):
    import subprocess
    import sys
    import time

    from tests.peers._base import can_connect

    host = testnet.hosts[0]
    payload = os.urandom(300 * 1024)
    (tmp_path / "payload").write_bytes(payload)
    server = subprocess.Popen(["ip", "netns", "exec", host.namespace, sys.executable, "-m", "http.server", "8080",
                               "--bind", host.address, "--directory", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not can_connect(host.address, 8080) and time.monotonic() < deadline:
            time.sleep(0.1)
        code, out, err = run("get", f"http://{host.address}:8080/payload", "-", timeout=120)
        assert code == 0 and out == payload, err
    finally:
        server.terminate()
        server.wait(10)


# -- progress ---------------------------------------------------------------------------------

def test_progress_on_a_terminal_silent_on_a_pipe(nginx, tmp_path):
    code, text = run_on_pty("get", nginx.url("/big"), "-o", "one", "--limit-rate", "2M", cwd=tmp_path)
    assert code == 0 and (tmp_path / "one").read_bytes() == BIG
    (row,) = screen(text, 80)  # redrawn in place, the last frame stays
    assert row.startswith("one ━━━") and " 100.0% 1.0 MiB of 1.0 MiB " in row and row.endswith(" done")
    assert "MiB/s" in row and "ETA" in text and "\r" in text
    code, out, err = run("get", nginx.url("/big"), "-o", "two", "--limit-rate", "2M", cwd=tmp_path)
    assert code == 0 and out == b"" and err == ""
    code, text = run_on_pty("get", nginx.url("/big"), "-o", "three", "-q", cwd=tmp_path)
    assert code == 0 and text == ""
    # Standard output a terminal (splice() cannot write there): the bytes still all arrive,
    # and no progress is drawn among them.
    code, text = run_on_pty("get", nginx.url("/big"), "-", "-q", cwd=tmp_path)
    assert code == 0 and text == "x" * BIG_SIZE
    code, text = run_on_pty("get", nginx.url("/big"), "-", cwd=tmp_path)
    assert code == 0 and text == "x" * BIG_SIZE


def test_progress_one_line_per_file_and_unknown_size(nginx, tmp_path):
    code, text = run_on_pty("get", nginx.url("/big"), nginx.url("/chunked"), "-o", "a", "-o", "b", cwd=tmp_path)
    assert code == 0
    a, b = screen(text, 80)
    assert a.startswith("a ━") and " 100.0% 1.0 MiB of 1.0 MiB " in a and a.endswith(" done")
    assert b.startswith("b ━") and " 40 B of 40 B " in b and b.endswith(" done")  # its size known at the end


# -- put over http ------------------------------------------------------------------------------

def test_put_and_post_a_file(faulty_http, tmp_path):
    src = tmp_path / "data.bin"
    src.write_bytes(FAULTY_BODY)
    code, out, err = run("put", src, faulty_http.url("/upload"))
    assert code == 0 and out.decode() == f"PUT {len(FAULTY_BODY)} {hashlib.sha256(FAULTY_BODY).hexdigest()}\n", err
    assert err == ""
    code, text = run_on_pty("put", src, faulty_http.url("/upload"), "--limit-rate", "1M")
    row, answer = screen(text, 80)
    assert code == 0 and row.startswith("data.bin ━") and " 100.0% 256.0 KiB of 256.0 KiB " in row
    assert row.endswith(" done") and answer.startswith(f"PUT {len(FAULTY_BODY)} ")
    assert faulty_http.requests[-1][:2] == ("PUT", "/upload")
    code, _, err = run("put", src, faulty_http.url("/nowhere"), "-X", "POST")
    assert code == 1 and "404" in err and faulty_http.requests[-1][:2] == ("POST", "/nowhere")
