"""get, put and check against hostile HTTP servers (tests/peers/hostile_http.py): secrets
stay with their origin, hostile heads and bodies are clear protocol errors, deadlines hold."""

import urllib.parse

import pytest

from tests.helpers import run_netkit

SECRETS = ("hunter2", "SECRET-TOKEN", "SECRET-COOKIE", "SECRET-KEY", "SECRET-SESSION", "SECRET-CUSTOM")
CREDENTIAL_HEADERS = ("-H", "Authorization: Bearer SECRET-TOKEN", "-H", "Cookie: sid=SECRET-COOKIE",
                      "-H", "X-Api-Key: SECRET-KEY", "-H", "X-Session: SECRET-SESSION",
                      "-H", "X-Custom: SECRET-CUSTOM", "-H", "Proxy-Authorization: Basic SECRET-TOKEN",
                      "-H", "Accept: text/plain")


def redirect(first, status, to):
    return first.url(f"/redirect/{status}/{to.rsplit('/', 1)[-1]}?to={urllib.parse.quote(to, safe='')}")


def leaked(seen) -> list:
    text = repr((seen.headers, seen.body, seen.path))
    import base64

    basic = base64.b64encode(b"alice:hunter2").decode()
    return [s for s in (*SECRETS, basic) if s in text]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_get_keeps_credentials_from_another_origin(hostile_http, hostile_http_other, tmp_path, status):
    key = f"get-secrets-{status}"
    url = redirect(hostile_http, status, hostile_http_other.url(f"/ok/{key}"))
    code, _, err = run_netkit("get", url, "-o", tmp_path / "out", "--user", "alice:hunter2", *CREDENTIAL_HEADERS)
    assert code == 0, err
    first = hostile_http.seen_for(key)[-1]
    assert first.header("Authorization") == "Bearer SECRET-TOKEN" and first.header("X-Custom") == "SECRET-CUSTOM"
    (second,) = hostile_http_other.seen_for(key)
    assert leaked(second) == []
    assert second.header("Accept") == "text/plain"  # the safe list goes on


def test_get_keeps_credentials_on_the_same_origin(hostile_http, tmp_path):
    key = "get-same-origin"
    url = redirect(hostile_http, 302, f"/ok/{key}")
    code, _, err = run_netkit("get", url, "-o", tmp_path / "out", "--user", "alice:hunter2", "-H", "X-Api-Key: K1")
    assert code == 0, err
    final = [r for r in hostile_http.seen_for(key) if r.path.startswith("/ok/")][-1]
    assert final.header("X-Api-Key") == "K1" and final.header("Authorization", ).startswith("Basic ")


def test_post_body_does_not_follow_a_303_and_307_keeps_it(hostile_http, hostile_http_other, tmp_path):
    for status, method in ((303, "GET"), (307, "POST")):
        key = f"post-{status}"
        url = redirect(hostile_http, status, hostile_http_other.url(f"/ok/{key}"))
        code, _, err = run_netkit("get", url, "-o", tmp_path / key, "-d", "q=1")
        assert code == 0, err
        (second,) = hostile_http_other.seen_for(key)
        assert second.method == method
        assert (second.body == b"q=1") == (method == "POST")


def test_check_keeps_credentials_from_another_origin(hostile_http, hostile_http_other):
    key = "check-secrets"
    url = redirect(hostile_http, 302, hostile_http_other.url(f"/ok/{key}"))
    code, out, err = run_netkit("check", url, "-L", "--user", "alice", "--password-env", "NETKIT_PW", *CREDENTIAL_HEADERS,
                                env={"NETKIT_PW": "hunter2"}, timeout=30)
    assert code == 0, out + err
    (second,) = hostile_http_other.seen_for(key)
    assert leaked(second) == []


def test_redirect_to_another_scheme_is_refused(hostile_http, tmp_path):
    url = redirect(hostile_http, 302, "file:///etc/passwd")
    code, _, err = run_netkit("get", url, "-o", tmp_path / "x", "--retry", "0")
    assert code == 1 and "only http and https" in err
    assert not (tmp_path / "x").exists()


def test_check_verbose_masks_every_credential(hostile_http):
    key = "verbose-mask"
    code, out, err = run_netkit("check", "-v", hostile_http.url(f"/ok/{key}"), "--user", "alice",
                                "--password-env", "NETKIT_PW", *CREDENTIAL_HEADERS, "-H", "X-Auth-Token: SECRET-TOKEN",
                                env={"NETKIT_PW": "hunter2"}, timeout=30)
    assert code == 0, out + err
    shown = out + err
    import base64

    # X-Custom is not named like a credential, but a -H header off the allowlist may be one
    assert [s for s in (*SECRETS, base64.b64encode(b"alice:hunter2").decode()) if s in shown] == []
    assert "> X-Custom: ********" in shown
    assert "> Authorization: Bearer ********" in shown and "< Set-Cookie: ********" in shown
    assert "> Accept: text/plain" in shown  # what is no secret stays readable
    code, out, _ = run_netkit("check", "--json", hostile_http.url(f"/ok/{key}"), timeout=30)
    assert "SECRET-COOKIE" not in out and "Set-Cookie" in out


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o602])
def test_a_netrc_others_can_read_is_refused(hostile_http, tmp_path, mode):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password hunter2\n")
    netrc.chmod(mode)
    for command in (("get", hostile_http.url("/ok/netrc"), "-o", tmp_path / "out"),
                    ("check", hostile_http.url("/ok/netrc"), "--user", "alice")):
        code, out, err = run_netkit(*command, env={"NETRC": str(netrc)}, timeout=30)
        assert code in (2, 3), out + err
        assert "access too permissive" in out + err and "chmod 600" in out + err
        assert len((out + err).strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    assert not [r for r in hostile_http.seen_for("/ok/netrc") if "hunter2" in repr(r.headers)]


@pytest.mark.parametrize("args, field", [
    (("-H", "X-A: a\r\nEvil: 1"), "header 'X-A'"),
    (("-A", "agent\r\nEvil: 1"), "--user-agent"),
    (("--user", "alice\nEvil"), "--user"),
    (("--user", "alice:pw\r\nEvil: 1"), "--user"),
])
def test_line_breaks_from_the_user_are_usage_errors(hostile_http, tmp_path, args, field):
    code, _, err = run_netkit("get", hostile_http.url("/ok/inject"), "-o", tmp_path / "out", *args)
    assert code == 2 and field in err and "CR, LF or NUL" in err
    assert not [r for r in hostile_http.seen_for("/ok/inject") if "Evil" in repr(r.headers)]


@pytest.mark.parametrize("url, field", [("/ok/inject-url\r\nEvil: 1", "a URL"),
                                        ("/ok/inject-url", "the user name")])
def test_line_breaks_in_the_url_are_usage_errors(hostile_http, tmp_path, url, field):
    full = hostile_http.url(url)
    if field == "the user name":
        full = full.replace("http://", "http://alice%0d%0aEvil:pw@")
    code, _, err = run_netkit("get", full, "-o", tmp_path / "out")
    assert code == 2 and field in err and len(err.strip().splitlines()) == 1
    assert not hostile_http.seen_for("inject-url")


def test_put_with_a_cut_answer_fails(hostile_http, tmp_path):
    data = tmp_path / "data.bin"
    data.write_bytes(b"d" * 4096)
    code, _, err = run_netkit("put", data, hostile_http.url("/put-cut"), "--retry", "0")
    assert code == 1 and "cut after 30720 bytes" in err and "may not have stored" in err, err
    assert len(err.strip().splitlines()) == 1


def test_a_body_that_is_not_gzip_is_a_protocol_error(hostile_http, tmp_path):
    code, _, err = run_netkit("get", "--compressed", hostile_http.url("/bad-gzip"), "-o", tmp_path / "out")
    assert code == 1 and "is not the 'gzip' the server said it is" in err and "internal error" not in err, err
    assert not (tmp_path / "out").exists()
    assert "retry" not in err  # the server's fault, not a passing one


def test_get_head_escapes_control_characters(hostile_http):
    code, out, err = run_netkit("get", "-I", hostile_http.url("/c1"), text=False)
    assert code == 0, err
    assert b"\x9b" not in out and b"\xc2\x9b" not in out and b"\xc2\x9d" not in out
    assert b"200 OK\\x9b2J" in out and b"X-Evil: a\\x9b31mRED\\x9d0;title\\x9c \xc3\xa9t\xc3\xa9" in out


def test_check_escapes_control_characters_in_the_reason(hostile_http):
    code, out, err = run_netkit("check", hostile_http.url("/c1"), text=False)
    assert code == 0, err
    assert b"\xc2\x9b" not in out and b"OK\\x9b2J" in out


@pytest.mark.parametrize("command", ["get", "check"])
def test_a_non_ascii_content_length_is_a_protocol_error(hostile_http, tmp_path, command):
    args = ("-o", tmp_path / "out", "--retry", "0") if command == "get" else ()
    code, out, err = run_netkit(command, hostile_http.url("/bad-length"), *args)
    assert code in (1, 2) and "bad Content-Length" in out + err and "internal error" not in out + err


def test_max_time_ends_a_trickle(hostile_http, tmp_path):
    """The server sends a byte every 0.2 s of 1000 (200 s): no idle timeout ever fires."""
    code, _, err = run_netkit("get", hostile_http.url("/trickle"), "-o", tmp_path / "out", "--max-time", "1.5",
                              "--retry", "3", timeout=30)
    assert code == 1 and "--max-time 1.5 s passed" in err and "retry" not in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_speed_limit_ends_a_trickle(hostile_http, tmp_path):
    code, _, err = run_netkit("get", hostile_http.url("/trickle"), "-o", tmp_path / "out", "--speed-limit", "1k",
                              "--speed-time", "1", "--retry", "1", "--retry-delay", "0", timeout=30)
    assert code == 1 and "slower than --speed-limit 1024 B/s for 1 s" in err, err
    assert "retry 1 of 1" in err  # a slow server may be faster next time, as curl retries it
    assert not (tmp_path / "out").exists()


def test_limits_leave_a_good_transfer_alone(hostile_http, tmp_path):
    code, _, err = run_netkit("get", hostile_http.url("/ok/limits"), "-o", tmp_path / "out", "--max-time", "30",
                              "--speed-limit", "1", "--speed-time", "5")
    assert code == 0 and (tmp_path / "out").read_bytes() == b"ok\n", err


def test_speed_time_needs_speed_limit(hostile_http, tmp_path):
    code, _, err = run_netkit("get", hostile_http.url("/ok/limits"), "-o", tmp_path / "out", "--speed-time", "5")
    assert code == 2 and "give --speed-limit" in err


def test_a_netrc_that_is_not_utf8_is_one_line(hostile_http, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_bytes(b"machine 127.0.0.1 login alice password \xff\xfe\n")
    netrc.chmod(0o600)
    code, _, err = run_netkit("get", hostile_http.url("/ok/netrc-utf8"), "-o", tmp_path / "out",
                              env={"NETRC": str(netrc)})
    assert code == 2 and "not UTF-8" in err and len(err.strip().splitlines()) == 1


def test_a_bad_proxy_in_the_environment_is_the_users_mistake(hostile_http):
    code, out, err = run_netkit("check", hostile_http.url("/ok/env-proxy"), env={"http_proxy": "http://[::1"})
    assert code == 3 and "the proxy in the environment (http_proxy)" in out and "internal error" not in out, out + err


def test_get_verbose_shows_the_heads_with_every_credential_masked(hostile_http, hostile_http_other, tmp_path):
    key = "get-verbose"
    url = redirect(hostile_http, 302, hostile_http_other.url(f"/ok/{key}"))
    code, _, err = run_netkit("get", "-v", url, "-o", tmp_path / "out", "--user", "alice:hunter2",
                              "-H", "Cookie: sid=SECRET-COOKIE", "-H", "X-Api-Key: SECRET-KEY")
    assert code == 0, err
    import base64

    assert [s for s in ("hunter2", "SECRET-COOKIE", "SECRET-KEY", base64.b64encode(b"alice:hunter2").decode())
            if s in err] == []
    assert "> Authorization: Basic ********" in err and "> Cookie: ********" in err
    assert "< HTTP/1.1 302 Moved" in err and "< Set-Cookie: ********" in err
    assert f"* connected to 127.0.0.1:{hostile_http_other.port}" in err


def test_one_bad_content_length_fails_one_check(hostile_http):
    code, out, err = run_netkit("check", hostile_http.url("/bad-length"), hostile_http.url("/ok/sweep"))
    lines = out.strip().splitlines()
    assert code == 2 and len(lines) == 2, out + err
    assert "CRITICAL" in lines[0] and "bad Content-Length" in lines[0] and "OK" in lines[1]
