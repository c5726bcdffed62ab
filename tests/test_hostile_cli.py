"""connect, send, serve, dns, url and the top-level command against bad input and hostile
peers (issue 12): one clear line and the right exit code, never an internal error."""

import os
import pty
import socket
import subprocess
import sys
import threading

from tests.helpers import read_pty, run_netkit

DAYTIME = b"Fri Dec  4 11:00:00 2026\r\n"
# A terminal would obey this: retitle the window, then ring the bell.
OSC_TITLE = b"\x1b]0;owned\x07"


def netkit_bytes(*args, stdin=None, input=None, timeout=60):
    """(exit code, stdout bytes, stderr text) of ``netkit ARGS``."""
    proc = subprocess.run([sys.executable, "-m", "netkit", *map(str, args)], stdin=stdin, input=input,
                          capture_output=True, timeout=timeout)
    err = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err and "internal error" not in err, err
    return proc.returncode, proc.stdout, err


def one_line(err: str) -> bool:
    return err.count("\n") == 1 and err.endswith("\n")


# -- connect: input that epoll cannot watch ------------------------------------------------


def test_connect_reads_a_regular_file_and_dev_null(served, tmp_path):
    server = served("echo")
    request = tmp_path / "request.txt"
    data = b"".join(b"line %d\n" % i for i in range(50000))  # more than one read, more than the socket takes
    request.write_bytes(data)
    with open(request, "rb") as f:
        code, out, err = netkit_bytes("connect", "127.0.0.1", server.port, stdin=f)
    assert (code, err) == (0, "") and out == data
    with open(os.devnull, "rb") as f:
        code, out, err = netkit_bytes("connect", "127.0.0.1", server.port, stdin=f)
    assert (code, out, err) == (0, b"", "")
    assert "half-closed by the client" in server.wait_log("disconnect", count=2)
    udp = served("echo", "--udp")
    request.write_bytes(b"one datagram\n")
    with open(request, "rb") as f:
        code, out, err = netkit_bytes("connect", "--udp", "--wait", "0.5", "127.0.0.1", udp.port, stdin=f)
    assert (code, out) == (0, b"echo:one datagram\n")


# -- a reply, then a close without reading (daytime, time) ---------------------------------


def test_send_and_connect_take_a_reply_followed_by_a_reset(answer_and_close, tmp_path):
    peer = answer_and_close(DAYTIME)  # waits for our bytes, so its close is a reset every time
    for _ in range(3):
        code, out, err = netkit_bytes("send", peer.host, peer.port, "what time is it?")
        assert (code, out, err) == (0, DAYTIME, "")
    code, out, err = netkit_bytes("connect", peer.host, peer.port, input=b"x" * 4_000_000)
    assert (code, out, err) == (0, DAYTIME, "")
    request = tmp_path / "big"
    request.write_bytes(b"y" * 4_000_000)
    with open(request, "rb") as f:
        code, out, err = netkit_bytes("connect", peer.host, peer.port, stdin=f)
    assert (code, out, err) == (0, DAYTIME, "")


def test_a_reply_before_our_request_arrives_is_still_the_reply(answer_and_close):
    peer = answer_and_close(b"\x00\x01\x02\x03", wait_for_input=False)  # RFC 868: four bytes, close
    code, out, err = netkit_bytes("send", peer.host, peer.port, "")
    assert (code, out, err) == (0, b"\x00\x01\x02\x03", "")


def test_a_reset_without_any_reply_is_still_a_failure(answer_and_close):
    peer = answer_and_close(b"")
    code, out, err = netkit_bytes("send", peer.host, peer.port, "hello")
    assert code == 1 and out == b"" and one_line(err) and "netkit send: " in err


# -- the last line without a line end ------------------------------------------------------


def test_a_last_line_without_a_line_end_is_answered_and_printed(served, answer_and_close):
    echo = served("echo", "--prefix", "> ")
    code, out, err = netkit_bytes("connect", "127.0.0.1", echo.port, input=b"a\nlast")
    assert (code, out) == (0, b"> a\n> last")
    reverse = served("reverse")
    code, out, err = netkit_bytes("connect", "127.0.0.1", reverse.port, input=b"abc\r\ndef")
    assert (code, out) == (0, b"cba\r\nfed")
    peer = answer_and_close(b"first\nno line end", wait_for_input=False)
    code, out, err = netkit_bytes("connect", "--crlf", peer.host, peer.port, stdin=subprocess.DEVNULL)
    assert (code, out) == (0, b"first\nno line end")


# -- UDP: no TLS, no datagram over the maximum ----------------------------------------------


def test_udp_with_tls_and_oversized_datagrams_are_usage_errors(served):
    for command in ("connect", "send"):
        code, out, err = netkit_bytes(command, "--udp", "--tls", "127.0.0.1", "7", "x")
        assert code == 2 and one_line(err) and "--udp and --tls" in err and "DTLS" in err, err
    udp = served("echo", "--udp")
    code, out, err = netkit_bytes("send", "--udp", "127.0.0.1", udp.port, "a" * 70000)
    assert code == 2 and one_line(err) and "70,001 bytes" in err and "65,507" in err, err
    code, out, err = netkit_bytes("send", "--udp", "-n", "127.0.0.1", udp.port, "a" * 65510)
    assert code == 2 and one_line(err) and "65,507 bytes over IPv4" in err, err
    code, out, err = netkit_bytes("connect", "--udp", "127.0.0.1", udp.port, input=b"b" * 70000 + b"\n")
    assert code == 2 and one_line(err) and "too long for UDP" in err and "65,507" in err, err
    code, out, err = netkit_bytes("send", "--udp", "-n", "127.0.0.1", udp.port, "c" * 65000)
    assert code == 0 and out == b"echo:" + b"c" * 65000
    discard = served("discard", "--udp")
    code, out, err = netkit_bytes("send", "--udp", "--wait", "0.2", "127.0.0.1", discard.port, "anyone?")
    assert code == 1 and out == b"" and one_line(err) and "no reply within 0.2 s" in err, err


# -- remote text on a terminal -------------------------------------------------------------


def _on_terminal(*args):
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "netkit", *map(str, args)], stdin=subprocess.DEVNULL,
                            stdout=terminal, stderr=subprocess.PIPE, close_fds=True)
    os.close(terminal)
    try:
        seen = read_pty(controller, timeout=30)
        assert proc.wait(30) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)
    return seen


def test_connect_and_send_escape_control_sequences_on_a_terminal_only(answer_and_close):
    peer = answer_and_close(b"hello " + OSC_TITLE + "caf\u00e9 \u202e".encode() + b"\r\nbye\r\n")
    shown = _on_terminal("connect", peer.host, peer.port)
    assert b"\x1b" not in shown and b"\x07" not in shown and "\u202e".encode() not in shown
    assert b"hello \\x1b]0;owned\\x07caf\xc3\xa9 \\u202e" in shown and b"bye" in shown
    shown = _on_terminal("send", peer.host, peer.port, "")
    assert b"\x1b" not in shown and b"\\x1b]0;owned\\x07" in shown
    assert OSC_TITLE in _on_terminal("connect", "--raw", peer.host, peer.port)
    code, out, err = netkit_bytes("connect", peer.host, peer.port, stdin=subprocess.DEVNULL)
    assert code == 0 and OSC_TITLE in out  # a pipe gets the bytes as they came (netcat)
    code, out, err = netkit_bytes("help", "connect")
    assert b"--raw" in out and b"terminal" in out


def test_url_output_escapes_controls_on_a_terminal_only():
    shown = _on_terminal("url", "unquote", "%1b%5d0%3bowned%07done")
    assert b"\x1b" not in shown and b"\\x1b]0;owned\\x07done" in shown
    code, out, err = netkit_bytes("url", "unquote", "%1b%5d0%3bowned%07done")
    assert code == 0 and out == OSC_TITLE + b"done\n"


def test_serve_log_lines_escape_what_a_peer_chose(served, tmp_path):
    path = str(tmp_path / "echo.sock")
    server = served("echo", "--unix", path)
    client_name = str(tmp_path / "client\x1b]0;owned\x07")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(client_name)  # the server's log names a Unix client by this
        sock.connect(path)
        sock.sendall(b"hi\n")
        assert sock.recv(10) == b"hi\n"
    line = server.wait_log("connect ")
    assert "\x1b" not in server.text and "\\x1b]0;owned\\x07" in line


# -- serve: config files and pid files ------------------------------------------------------


def test_a_config_file_that_is_not_utf8_or_not_a_file_is_one_line(tmp_path):
    config = tmp_path / "services.toml"
    config.write_bytes(b'# caf\xe9\n[[service]]\nservice = "echo"\nport = 0\n')
    code, out, err = run_netkit("serve", "--config", config)
    assert code == 2 and one_line(err) and str(config) in err and "not UTF-8" in err and "line 1" in err, err
    for bad in ("/dev/zero", tmp_path):
        code, out, err = run_netkit("serve", "--config", bad, timeout=30)
        assert code == 2 and one_line(err) and str(bad) in err, err


def test_a_foreign_or_live_pidfile_is_refused_and_left_alone(tmp_path):
    foreign = tmp_path / "notes.txt"
    foreign.write_text("my notes\n")
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = tmp_path / "link.pid"
    link.symlink_to(victim)
    live = tmp_path / "live.pid"
    live.write_text(f"{os.getpid()}\n")  # this test's process: alive, and not the server
    for pidfile, words in ((foreign, "something other than a process id"), (link, "symbolic link"),
                           (live, f"process {os.getpid()} is running")):
        before = pidfile.read_bytes()
        code, out, err = run_netkit("serve", "echo", "--port", "0", "--pidfile", pidfile)
        assert code == 2 and one_line(err) and words in err, err
        assert pidfile.read_bytes() == before
    assert victim.read_text() == "precious\n" and link.is_symlink()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".netkit-pid")] == []


def test_a_stale_pidfile_is_replaced_and_only_ours_is_removed(served, tmp_path):
    pidfile = tmp_path / "serve.pid"
    dead = subprocess.Popen(["true"])
    dead.wait()
    pidfile.write_text(f"{dead.pid}\n")  # stale: its process is gone
    server = served("echo", "--pidfile", pidfile)
    assert pidfile.read_text() == f"{server.proc.pid}\n"
    assert server.stop() == 0 and not pidfile.exists()
    server = served("echo", "--pidfile", pidfile)
    pidfile.unlink()
    pidfile.write_text("4242\n")  # another one's now: stopping must not delete it
    assert server.stop() == 0 and pidfile.read_text() == "4242\n"


# -- serve: UDP is not an amplifier ---------------------------------------------------------

FLOOD = 20000  # empty datagrams: unthrottled, 10 MB of chargen back at the "victim"


def test_udp_chargen_flood_gets_bounded_replies_and_others_are_still_answered(served):
    from netkit.serve._ratelimit import SOURCE_BURST, SOURCE_RATE

    server = served("chargen", "--udp")
    received = [0]
    victim = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    victim.bind(("127.0.0.1", 0))
    victim.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    victim.settimeout(1.0)
    done = threading.Event()

    def count():
        while True:
            try:
                received[0] += len(victim.recv(65536))
            except TimeoutError:
                if done.is_set():
                    return

    import time

    reader = threading.Thread(target=count)
    reader.start()
    started = time.monotonic()
    for _ in range(FLOOD):
        victim.sendto(b"", server.address)
    done.set()
    reader.join()
    elapsed = time.monotonic() - started
    victim.close()
    # what the token bucket lets through in that time, and far below the 10 MB unthrottled
    assert received[0] <= SOURCE_BURST + SOURCE_RATE * elapsed + 512
    assert received[0] < FLOOD * 512 // 10
    assert received[0] >= 512  # it does answer
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:  # another address is served
        other.bind(("127.0.0.2", 0))
        other.settimeout(5)
        other.sendto(b"", server.address)
        assert len(other.recv(1024)) == 512
    assert "not answered (over 32 KiB/s of replies to one address)" in server.wait_log("not answered")


# -- the top-level command and usage errors -------------------------------------------------


def test_help_command_and_no_arguments():
    code, out, err = run_netkit("help", "scan")
    assert code == 0 and out.startswith("usage: netkit scan") and err == ""
    code, out, err = run_netkit("help", "scna")
    assert code == 2 and one_line(err) and "did you mean scan" in err
    code, out, err = run_netkit()
    assert code == 2 and out == "" and err.startswith("usage: netkit COMMAND")
    code, out, err = run_netkit("help", "help")
    assert code == 0 and out.startswith("usage: netkit COMMAND")
    code, out, err = run_netkit("--help")
    assert code == 0 and out.startswith("usage: netkit COMMAND") and err == ""


COMMANDS = ("check", "scan", "get", "put", "mirror", "serve", "connect", "send", "sockopt", "dns", "service", "url")


def test_usage_errors_name_the_command_once_and_the_value_once():
    for command in COMMANDS:
        for args in (("--bogus",), ("-Z",)):
            code, out, err = run_netkit(command, *args)
            text = out + err
            assert code in (2, 3) and text.count("netkit ") - text.count("see netkit") <= 1, (command, text)
            assert "in '-Z'" not in text, text
    code, out, err = run_netkit("check", "-w", "abc", "tcp://127.0.0.1:1")
    assert code == 3 and out.count("'abc'") == 2 and "'abc' 'abc'" not in out, out  # the mistake, and "got"
    code, out, err = run_netkit("serve", "echo", "--sockopt", "TCP_KEEPIDLE=99999999999")
    assert code == 2 and one_line(err) and err.count("99999999999") == 1, err


# -- dns: a peer that does not speak DNS ----------------------------------------------------


def test_dns_diagnoses_a_reply_that_is_not_dns(garbage_dns):
    server = f"{garbage_dns.host}:{garbage_dns.port}"
    code, out, err = run_netkit("dns", "example.com", "--server", server, "--timeout", "30")
    assert code == 1 and one_line(err) and "sent something that is not a DNS reply" in err, err
    assert "\x1b" not in err and "no answer" not in err  # said at once, not after 30 s of waiting
    code, out, err = run_netkit("dns", "example.com", "--server", server, "--tcp", "--timeout", "30")
    assert code == 1 and one_line(err) and "before a complete DNS reply" in err, err
    assert set(garbage_dns.queries) == {"udp", "tcp"}


# -- more of the same class: bad files and values are usage errors, before any connection ----


def test_a_bad_cafile_is_a_usage_error_and_tls_over_unix_checks_localhost(served, tmp_path, pki):
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate\n")
    for cafile in (tmp_path / "missing.pem", not_pem, tmp_path):
        for command in (("connect",), ("send", )):
            args = [*command, "--tls", "--cafile", cafile, "127.0.0.1", "1"] + (["x"] if command == ("send",) else [])
            code, out, err = netkit_bytes(*args)
            assert code == 2 and one_line(err) and str(cafile) in err, err
    path = str(tmp_path / "tls.sock")
    served("reverse", "--unix", path, "--tls", pki.good.cert, pki.good.key)
    code, out, err = netkit_bytes("connect", "--unix", path, "--tls", "--cafile", pki.ca_file, input=b"abc\n")
    assert (code, out, err) == (0, b"cba\n", "")


def test_serve_limits_and_socket_options_are_bounded():
    for args, words in ((("--max-line", "99999999999G"), "1 GiB"), (("--max-output", "2G"), "1 GiB"),
                        (("--max-connections", "99999999999"), "1,048,576"),
                        (("--sockopt", "SO_LINGER=99999999999"), "C int")):
        code, out, err = run_netkit("serve", "echo", "--port", "0", *args)
        assert code == 2 and one_line(err) and words in err, (args, err)


def test_url_arguments_that_are_not_utf8_are_encoded_as_given():
    def url(*args):
        proc = subprocess.run([sys.executable.encode(), b"-m", b"netkit", b"url", *args], capture_output=True,
                              timeout=30)
        err = proc.stderr.decode("utf-8", "replace")
        assert "internal error" not in err and "Traceback" not in err, err
        return proc.returncode, proc.stdout, err

    assert url(b"quote", b"a\xffb \xc3\xa9")[:2] == (0, b"a%FFb%20%C3%A9\n")
    assert url(b"encode", b"k=a\xffb")[:2] == (0, b"k=a%FFb\n")
    assert url(b"decode", b"a=\xff\x1b")[:2] == (0, b"a=\\xff\\x1b\n")
    code, out, err = url(b"quote", b"--safe", b"\xff", b"x")
    assert code == 2 and one_line(err) and "--safe" in err


def test_every_duration_is_bounded_by_the_shared_parser():
    for args in (("dns", "-t", "1e308", "example.com", "--server", "127.0.0.1:9"),
                 ("connect", "--connect-timeout", "1e308", "127.0.0.1", "9"),
                 ("send", "--timeout", "1e308", "127.0.0.1", "9", "x"),
                 ("send", "--wait", "1e308", "--udp", "127.0.0.1", "9", "x"),
                 ("serve", "echo", "--port", "0", "--idle-timeout", "1e308"),
                 ("serve", "echo", "--port", "0", "--grace", "1e308"),
                 ("serve", "echo", "--port", "0", "--sockopt", "SO_RCVTIMEO=1e308")):
        code, out, err = run_netkit(*args, timeout=30)
        assert code == 2 and one_line(err) and "a day" in err, (args, err)


def test_send_ends_at_its_timeout_even_when_the_peer_never_stops(endless_tcp):
    proc = subprocess.run([sys.executable, "-m", "netkit", "send", "--timeout", "1", endless_tcp.host,
                           str(endless_tcp.port), ""], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          timeout=60)
    assert proc.returncode == 0 and proc.stderr == b""


def test_serve_unix_never_replaces_what_is_not_a_socket(tmp_path):
    regular = tmp_path / "file"
    regular.write_text("keep me\n")
    link = tmp_path / "link"
    link.symlink_to(regular)
    for path in (regular, link, tmp_path):
        code, out, err = run_netkit("serve", "echo", "--unix", path)
        assert code == 1 and one_line(err) and "not a socket" in err and "--port" not in err, err
    assert regular.read_text() == "keep me\n" and link.is_symlink()


def test_serve_unix_removes_only_its_own_socket_file(served, tmp_path):
    path = tmp_path / "echo.sock"
    pidfile = tmp_path / "notes"
    pidfile.write_text("not a pid\n")
    code, out, err = run_netkit("serve", "echo", "--unix", path, "--pidfile", pidfile)
    assert code == 2 and not path.exists()  # set-up failed after binding: nothing left behind
    for workers in ("1", "2"):
        server = served("echo", "--unix", path, "--workers", workers)
        path.unlink()
        path.write_text("someone else's now\n")
        assert server.stop() == 0 and path.read_text() == "someone else's now\n"
        path.unlink()


def test_connect_with_closed_stdin_or_stdout_or_a_full_disk_is_one_line(served):
    server = served("echo")
    base = [sys.executable, "-m", "netkit", "connect", "127.0.0.1", str(server.port)]
    proc = subprocess.run(["sh", "-c", '"$@" <&-', "sh", *base], capture_output=True, timeout=30)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")  # nothing to send: done
    proc = subprocess.run(["sh", "-c", 'echo hi | "$@" >&-', "sh", *base], capture_output=True, timeout=30)
    assert proc.returncode == 1 and b"standard output is closed" in proc.stderr
    assert proc.stderr.count(b"\n") == 1
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(base, input=b"hi\n", stdout=full, stderr=subprocess.PIPE, timeout=30)
    assert proc.returncode == 1 and b"No space left on device" in proc.stderr and proc.stderr.count(b"\n") == 1


def test_output_that_cannot_be_written_is_one_line_not_an_internal_error():
    for args in (("--help",), ("url", "quote", "x"), ("service", "http"), ("serve", "--help"), ("dns", "--hostname")):
        with open("/dev/full", "wb") as full:
            proc = subprocess.run([sys.executable, "-m", "netkit", *args], stdout=full, stderr=subprocess.PIPE,
                                  timeout=30)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and one_line(err) and "No space left on device" in err, (args, err)
    proc = subprocess.run(["sh", "-c", '"$@" >&-', "sh", sys.executable, "-m", "netkit", "url", "quote", "x"],
                          capture_output=True, timeout=30)
    assert proc.returncode == 1 and b"closed" in proc.stderr and proc.stderr.count(b"\n") == 1
