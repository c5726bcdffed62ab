"""http:// and https:// checks against the real nginx (and tinyproxy)."""

import pytest

from netkit.core.perfdata import parse_perfdata
from tests.helpers import check, check_json, read_pty


def test_get_ok_with_timing_phases(nginx):
    code, out = check(nginx.url("/"))
    assert code == 0
    text, _, perf = out.strip().partition("|")
    assert text.startswith(f"HTTP OK - {nginx.url('/')} HTTP/1.1 200 OK - 39 bytes in ")
    metrics = {m.label: m for m in parse_perfdata(perf)}
    assert metrics["size"].value == 39 and metrics["size"].unit == "B"
    assert {"time", "time_dns", "time_connect", "time_firstbyte"} <= set(metrics)


def test_json_result(nginx):
    code, [r] = check_json(nginx.url("/headers"), "--name", "web")
    assert code == 0 and r["status"] == "OK" and r["code"] == 0 and r["name"] == "web"
    assert r["details"]["status_code"] == 200 and ["X-Netkit", "yes"] in r["details"]["headers"]
    assert r["timings"]["connect"] is not None and r["timings"]["tls"] is None and r["error"] is None
    assert r["metrics"]["size"] == len("headers\n")


@pytest.mark.parametrize(
    "path, args, code",
    [
        ("/status/404", [], 2),
        ("/status/500", [], 2),
        ("/status/404", ["--status", "404"], 0),
        ("/status/418", ["--status", "4xx"], 0),
        ("/status/201", ["--status", "200-204"], 0),
        ("/status/204", [], 0),
        ("/status/503", ["--status", "200,503"], 0),
        ("/", ["--status", "201"], 2),
    ],
)
def test_expected_status(nginx, path, args, code):
    assert check(nginx.url(path), *args)[0] == code


def test_status_text_names_the_expectation(nginx):
    code, out = check(nginx.url("/status/404"))
    assert code == 2 and "HTTP CRITICAL" in out and "status 404 is not the expected 2xx,3xx" in out


def test_redirect_judged_or_followed(nginx):
    code, out = check(nginx.url("/redirect"))
    assert code == 0 and "301 Moved Permanently" in out and "redirect to /, not followed" in out
    assert check(nginx.url("/redirect"), "--status", "200")[0] == 2
    code, out = check(nginx.url("/redirect"), "-L", "--status", "200")
    assert code == 0 and "200 OK" in out and "after 1 redirect" in out
    code, [r] = check_json(nginx.url("/r1"), "--follow")
    assert code == 0 and [x["status"] for x in r["details"]["redirects"]] == [302, 302]


def test_redirect_limits(nginx):
    code, out = check(nginx.url("/loop"), "-L")
    assert code == 2 and "more than 10 redirects" in out
    code, out = check(nginx.url("/r1"), "-L", "--max-redirects", "1")
    assert code == 2 and "more than 1 redirects" in out


def test_redirect_to_https(nginx, pki):
    code, [r] = check_json(nginx.url("/to-https"), "-L", "--cacert", pki.ca_file)
    assert code == 0 and r["details"]["url"] == f"https://localhost:{nginx.https_port}/"
    assert r["details"]["tls"]["verified"] is True


def test_see_other_turns_post_into_get(nginx):
    code, [r] = check_json(nginx.url("/see-other"), "-X", "POST", "-d", "a=1", "-L")
    assert code == 0 and r["details"]["url"].endswith("/") and r["details"]["size"] == 39


def test_307_keeps_post_and_body(nginx):
    code, out = check(nginx.url("/temp-redirect"), "-X", "POST", "-d", "a=1", "-L", "--body", "method=POST",
                      "--body", "body=a=1")
    assert code == 0, out


def test_form_data_by_get_and_post(nginx):
    code, out = check(nginx.url("/echo"), "-d", "a=1", "-d", "a=2", "-d", "b=c d", "-d", "é=ü",
                      "--body", "uri=/echo?a=1&a=2&b=c+d&%C3%A9=%C3%BC")
    assert code == 0, out
    code, out = check(nginx.url("/echo?x=1"), "-d", "k=v", "--body", "uri=/echo?x=1&k=v")
    assert code == 0, out
    code, out = check(nginx.url("/echo"), "-X", "POST", "-d", "a=1", "-d", "a=2", "--body", "method=POST",
                      "--body", "ctype=application/x-www-form-urlencoded", "--body", "body=a=1&a=2")
    assert code == 0, out


def test_headers_and_user_agent(nginx):
    code, out = check(nginx.url("/echo"), "-H", "X-Test: yes", "--body", "xtest=yes", "--body", "ua=netkit/")
    assert code == 0, out
    code, out = check(nginx.url("/echo"), "-A", "probe/2.0", "--body", "ua=probe/2.0")
    assert code == 0, out


def test_basic_auth(nginx):
    base = nginx.url("/auth/")
    with_creds = base.replace("http://", f"http://admin:{nginx.password}@")
    code, out = check(with_creds, "--body", "secret area")
    assert code == 0 and nginx.password not in out
    assert check(base)[0] == 2
    assert check(base.replace("http://", "http://admin:wrong@"))[0] == 2
    code, out = check(base, "--user", "admin", "--password-env", "WEB_PW", env={"WEB_PW": nginx.password})
    assert code == 0, out
    code, out = check(base.replace("http://", "http://admin@"), "--password-env", "WEB_PW",
                      env={"WEB_PW": nginx.password})
    assert code == 0, out


def test_body_string_regex_and_invert(nginx):
    url = nginx.url("/")
    assert check(url, "--body", "hello netkit")[0] == 0
    code, out = check(url, "--body", "goodbye")
    assert code == 2 and "'goodbye' not found in the body" in out
    assert check(url, "--body", "hello netkit", "--invert")[0] == 2
    assert check(url, "--body", "goodbye", "--invert")[0] == 0
    assert check(url, "--body-regex", "hel+o ne[t]kit")[0] == 0
    code, out = check(url, "--body-regex", "^bye")
    assert code == 2 and "does not match /^bye/" in out
    assert check(url, "--body-regex", "hello", "--invert")[0] == 2


def test_max_body(nginx):
    code, out = check(nginx.url("/big"))
    assert code == 0 and "1048576 bytes" in out
    code, out = check(nginx.url("/big"), "--max-body", "64k")
    assert code == 2 and "body larger than 64.0 KiB" in out


def test_chunked_body(nginx):
    code, out = check(nginx.url("/chunked"), "--body", "hello chunked")
    assert code == 0, out


def test_head_request(nginx):
    code, out = check(nginx.url("/big"), "-X", "HEAD")
    assert code == 0 and " 0 bytes" in out


def test_timeout_mid_body(nginx):
    code, out = check(nginx.url("/slow"), "-t", "1")
    assert code == 2 and "timeout after 1 s" in out


def test_ipv6(nginx):
    code, out = check(f"http://[::1]:{nginx.http_port}/")
    assert code == 0 and "200 OK" in out


def test_refused_and_protocol_errors(closed_port, banner_tcp):
    code, out = check(f"http://127.0.0.1:{closed_port.port}/")
    assert code == 2 and "connection refused" in out
    code, out = check(f"http://127.0.0.1:{banner_tcp.port}/", "-t", "2")
    assert code == 2 and "not an HTTP" in out


def test_https_verification(nginx, pki):
    good = nginx.url("/", scheme="https")
    code, out = check(good, "--cacert", pki.ca_file)
    assert code == 0 and "HTTP OK" in out
    code, out = check(good)
    assert code == 2 and "did not verify" in out and "unable to get local issuer certificate" in out
    assert check(good, "-k")[0] == 0
    code, out = check(nginx.url("/", scheme="https", port=nginx.expired_port), "--cacert", pki.ca_file)
    assert code == 2 and "certificate has expired" in out
    code, out = check(nginx.url("/", scheme="https", port=nginx.wrong_name_port), "--cacert", pki.ca_file)
    assert code == 2 and "mismatch, certificate is not valid for '127.0.0.1'" in out


def test_https_certificate_thresholds(nginx, pki):
    soon = nginx.url("/", scheme="https", port=nginx.soon_port)
    code, out = check(soon, "--cacert", pki.ca_file, "--cert-warn", "30")
    assert code == 1 and "expires in 4 days" in out and "days_left=" in out
    assert check(soon, "--cacert", pki.ca_file, "--cert-warn", "30", "--cert-crit", "7")[0] == 2
    assert check(soon, "--cacert", pki.ca_file, "--cert-warn", "3")[0] == 0
    code, [r] = check_json(soon, "--cacert", pki.ca_file)
    assert code == 0 and r["timings"]["tls"] is not None and r["details"]["tls"]["days_left"] <= 5


def test_explicit_proxy_plain_and_tunnel(nginx, pki, http_proxy):
    marker = "/echo?via=explicit-proxy"
    code, out = check(nginx.url(marker), "--proxy", http_proxy.url, "--body", "uri=/echo?via=explicit-proxy")
    assert code == 0, out
    assert "via=explicit-proxy" in http_proxy.wait_for_log("via=explicit-proxy")
    code, out = check(nginx.url("/", scheme="https"), "--proxy", http_proxy.url, "--cacert", pki.ca_file)
    assert code == 0, out
    http_proxy.wait_for_log(f"CONNECT 127.0.0.1:{nginx.https_port}")


def test_proxy_from_environment_and_its_exceptions(nginx, http_proxy):
    env = {"http_proxy": http_proxy.url}
    code, out = check(nginx.url("/echo?via=env-proxy"), env=env)
    assert code == 0, out
    http_proxy.wait_for_log("via=env-proxy")
    # --no-proxy and no_proxy both go direct: a dead proxy would fail them otherwise.
    dead = {"http_proxy": "http://127.0.0.1:1"}
    assert check(nginx.url("/"), env=dead)[0] == 2
    assert check(nginx.url("/"), "--no-proxy", env=dead)[0] == 0
    assert check(nginx.url("/"), env={**dead, "no_proxy": "127.0.0.1"})[0] == 0


def test_verbose_shows_request_and_response(nginx):
    code, out = check(nginx.url("/headers"), "-v")
    assert code == 0
    assert "  > GET /headers HTTP/1.1" in out and "  < X-Netkit: yes" in out


def test_https_sni(nginx, pki):
    code, [r] = check_json(nginx.url("/", scheme="https"), "--cacert", pki.ca_file, "--sni", "alt.test")
    assert code == 0 and r["details"]["tls"]["chain"][0]["sans"] == ["alt.test"]


def test_password_prompt_on_a_terminal(nginx):
    """--user without --password-env asks on the terminal (never echoing it)."""
    import os
    import pty
    import sys

    pid, fd = pty.fork()
    if pid == 0:  # the child: netkit on a terminal
        os.execv(sys.executable, [sys.executable, "-m", "netkit", "check", nginx.url("/auth/"), "--user", "admin",
                                  "--body", "secret area"])
    output = read_pty(fd, answer=(b"Password for admin", nginx.password.encode() + b"\n"))
    answered = b"Password for admin" in output
    _, status = os.waitpid(pid, 0)
    text = output.decode(errors="replace")
    assert answered, text
    assert os.waitstatus_to_exitcode(status) == 0 and "HTTP OK" in text, text
    assert nginx.password not in text


def test_password_from_netrc(nginx, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login admin password {nginx.password}\n")
    netrc.chmod(0o600)
    code, out = check(nginx.url("/auth/"), "--user", "admin", "--body", "secret area", env={"NETRC": str(netrc)})
    assert code == 0, out
    code, out = check(nginx.url("/auth/"), "--user", "other", env={"NETRC": str(netrc)})
    assert code == 3 and "the password for other is needed" in out
