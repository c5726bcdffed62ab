"""tls:// checks: handshake, verification, names, SNI and certificate expiry."""

from tests.helpers import check, check_json


def test_good_certificate(nginx, pki):
    code, [r] = check_json(f"tls://127.0.0.1:{nginx.https_port}", "--cacert", pki.ca_file)
    assert code == 0 and r["status"] == "OK"
    tls = r["details"]
    assert tls["version"].startswith("TLSv1.") and tls["cipher"] and tls["verified"] is True
    leaf = tls["chain"][0]
    assert {"localhost", "127.0.0.1", "::1"} <= set(leaf["sans"])
    assert leaf["issuer"] != leaf["subject"] and 300 < tls["days_left"] < 4000


def test_nagios_line(nginx, pki):
    code, out = check(f"tls://localhost:{nginx.https_port}", "--cacert", pki.ca_file, "--cert-warn", "30")
    assert code == 0 and out.startswith(f"TLS OK - localhost:{nginx.https_port} TLSv1.")
    assert "days_left=" in out and ";30:" in out


def test_unverified_without_the_ca(nginx):
    code, out = check(f"tls://127.0.0.1:{nginx.https_port}")
    assert code == 2 and "did not verify" in out
    code, out = check(f"tls://127.0.0.1:{nginx.https_port}", "--insecure")
    assert code == 0 and "not verified: --insecure" in out


def test_expired(nginx, pki):
    url = f"tls://127.0.0.1:{nginx.expired_port}"
    code, out = check(url, "--cacert", pki.ca_file)
    assert code == 2 and "certificate has expired" in out
    code, out = check(url, "--insecure")
    assert code == 2 and "expired 10 days ago" in out


def test_wrong_name_and_sni_override(nginx, pki):
    url = f"tls://127.0.0.1:{nginx.wrong_name_port}"
    code, out = check(url, "--cacert", pki.ca_file)
    assert code == 2 and "mismatch, certificate is not valid for '127.0.0.1'" in out
    assert check(url, "--cacert", pki.ca_file, "--sni", "wrong.example")[0] == 0


def test_sni_selects_the_certificate(nginx, pki):
    code, [r] = check_json(f"tls://127.0.0.1:{nginx.https_port}", "--cacert", pki.ca_file, "--sni", "alt.test")
    assert code == 0 and r["details"]["chain"][0]["sans"] == ["alt.test"]


def test_expiry_thresholds(nginx, pki):
    url = f"tls://127.0.0.1:{nginx.soon_port}"
    code, out = check(url, "--cacert", pki.ca_file, "--cert-warn", "30")
    assert code == 1 and "TLS WARNING" in out and "expires in 4 days" in out
    code, out = check(url, "--cacert", pki.ca_file, "--cert-warn", "30", "--cert-crit", "5")
    assert code == 2 and "TLS CRITICAL" in out
    assert check(url, "--cacert", pki.ca_file, "--cert-warn", "4", "--cert-crit", "2")[0] == 0


def test_failures(nginx, closed_port, silent_tcp):
    code, out = check(f"tls://127.0.0.1:{nginx.http_port}", "-t", "3")
    assert code == 2 and "TLS failed" in out
    code, out = check(f"tls://127.0.0.1:{closed_port.port}")
    assert code == 2 and "connection refused" in out
    code, out = check(f"tls://127.0.0.1:{silent_tcp.port}", "-t", "1")
    assert code == 2 and "timeout after 1 s in the TLS handshake" in out


def test_a_ca_file_that_is_not_pem_is_a_usage_error(nginx, tmp_path):
    """The one TLS context builder (drivers._tls) says so for every command: exit 2 (UNKNOWN
    for check), one line, no retry -- the file will be no better next time."""
    from tests.helpers import run_netkit

    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    runs = {
        "check": run_netkit("check", f"https://127.0.0.1:{nginx.https_port}/", "--cacert", junk),
        "check tls": run_netkit("check", f"tls://127.0.0.1:{nginx.https_port}", "--cacert", junk),
        "get": run_netkit("get", f"https://127.0.0.1:{nginx.https_port}/", "-o", tmp_path / "out", "--cacert", junk),
        "connect": run_netkit("connect", "--tls", "--cafile", junk, "127.0.0.1", nginx.https_port),
    }
    for name, (code, out, err) in runs.items():
        text = (out + err).strip()
        assert code == (3 if name.startswith("check") else 2), (name, text)
        assert f"the CA file {junk} holds no PEM certificate" in text, (name, text)
        assert "retry" not in text and "internal error" not in text, (name, text)
        assert len(text.splitlines()) == 1, (name, text)
    assert not (tmp_path / "out").exists()
