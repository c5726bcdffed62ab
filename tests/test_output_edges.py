"""Where output goes wrong and input is not what it claims: a full or closed stdout for
`check`, a device or a FIFO named as an input file, digits that only look ASCII, and a
peer's C1 controls in JSON."""

import json
import os
import socket
import subprocess
import sys
import threading

import pytest

from tests.helpers import clean_env, run_netkit


def _check_into(stdout, *args):
    proc = subprocess.run([sys.executable, "-m", "netkit", "check", *args], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, env=clean_env(), timeout=60, check=False)
    return proc.returncode, proc.stderr


@pytest.mark.parametrize("as_json", [False, True])
def test_check_into_a_full_disk_is_unknown_and_one_line(as_json, closed_port):
    with open("/dev/full", "w") as full:
        code, err = _check_into(full, *(["--json"] if as_json else []), f"tcp://127.0.0.1:{closed_port.port}")
    assert code == 3 and "Traceback" not in err, err
    assert err == "netkit check: cannot write the output: No space left on device\n"


def test_check_with_stdout_closed_is_unknown_and_one_line(closed_port):
    proc = subprocess.run(["sh", "-c", f'exec "$0" -m netkit check tcp://127.0.0.1:{closed_port.port} >&-',
                           sys.executable], stderr=subprocess.PIPE, text=True, env=clean_env(), timeout=60,
                          check=False)
    assert proc.returncode == 3 and proc.stderr == "netkit check: cannot write the output: it is closed (>&-)\n"


def _fifo(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return str(path)


@pytest.mark.parametrize("command", [["scan", "-p", "1", "-iL"], ["ssh", "run", "-f"], ["check", "--file"],
                                     ["serve", "--config"]])
@pytest.mark.parametrize("make", [lambda tmp: "/dev/zero", _fifo, lambda tmp: str(tmp)])
def test_an_input_file_that_is_not_a_regular_file_is_one_usage_line(command, make, tmp_path):
    path = make(tmp_path)
    code, out, err = run_netkit(*command, path, *(["--", "true"] if command[0] == "ssh" else []), timeout=30)
    said = out if command[0] == "check" else err
    assert code == (3 if command[0] == "check" else 2), (out, err)
    assert len(said.strip().splitlines()) == 1 and path in said, said
    assert "not a regular file" in said or "is a directory" in said, said


def test_input_files_must_be_utf8(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_bytes(b"caf\xe9.example\n")
    code, out, err = run_netkit("scan", "-p", "1", "-iL", hosts)
    assert code == 2 and "not UTF-8" in err and "line 1" in err, err


@pytest.mark.parametrize("args, word", [
    (["scan", "-p", "2\u00b2", "127.0.0.1"], "is not a port number"),  # '²'.isdigit() is True
    (["scan", "-p", "1", "127.0.0.1/\u00b2"], "is not a number"),
    (["serve", "echo", "--user", "\u00b2"], "no such user"),
])
def test_digits_are_ascii_digits(args, word):
    code, out, err = run_netkit(*args, timeout=30)
    assert code == 2 and word in err and len(err.strip().splitlines()) == 1, err


def test_a_rejected_value_is_shown_escaped():
    code, out, err = run_netkit("get", "-H", "X-A: 1\r\nX-B: 2", "http://127.0.0.1:9/")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "\\x0d\\x0a" in err, err


@pytest.fixture
def c1_banner():
    """A TCP peer whose greeting holds C1 controls (U+009B is a CSI on many terminals) and
    a right-to-left override, as UTF-8."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(30)

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.sendall("220 \u009b31mred\u202eevil\r\n".encode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()


def test_json_escapes_c1_controls_from_a_peer(c1_banner):
    code, out, err = run_netkit("check", "--json", f"tcp://127.0.0.1:{c1_banner}", "--expect", "220")
    assert code == 0, out
    assert "\u009b" not in out and "\u202e" not in out and "\\u009b" in out and "\\u202e" in out, out
    # the same JSON value, spelled safely: the peer's greeting as it came, in the details
    assert "\u009b31mred\u202eevil" in json.dumps(json.loads(out), ensure_ascii=False)
