"""netkit serve --workers: several processes serving one port, one limit over all of them,
signals through the parent, readiness and the pid file the parent's, no orphans.

Which worker holds which connection is read from the log (each worker's lines carry
``[worker N, pid P]``) and the processes from /proc; nothing here measures time.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time

from tests.test_serve_cli import read_all, talk

# Connections opened to see both workers serve: SO_REUSEPORT hashes each to one of the
# two, so all 40 land on the same worker with probability 2**-39.
SPREAD = 40


def workers_of(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pids, timeout=30.0) -> list[int]:
    """The pids still alive after waiting up to ``timeout`` for them to end."""
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def echo_on(server, data=b"hi\n"):
    sock = socket.create_connection(server.address, timeout=10)
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = sock.recv(100)
        assert chunk, "closed before the echo"
        got += chunk
    assert got == data
    return sock


def test_both_workers_serve_and_the_limit_holds_overall(served):
    server = served("echo", "--workers", "2", "--max-connections", SPREAD)
    assert "2 workers" in server.wait_log("listening on")
    pids = workers_of(server.proc.pid)
    assert len(pids) == 2
    held = [echo_on(server, b"line %d\n" % i) for i in range(SPREAD)]
    server.wait_log(" connect 127.0.0.1:", count=SPREAD)  # two workers' lines reach the log in their own time
    connects = [line for line in server.log if " connect 127.0.0.1:" in line]
    assert len(connects) == SPREAD
    serving = {int(m.group(1)) for m in (re.search(r"\[worker \d, pid (\d+)\]", line) for line in connects)}
    assert serving == set(pids), connects
    # the limit is over all workers: the next ones are refused by whichever worker accepts
    for _ in range(6):
        with socket.create_connection(server.address, timeout=10) as extra:
            try:
                assert extra.recv(10) == b""
            except ConnectionResetError:
                pass
    assert f"{SPREAD} connections open (--max-connections); refused" in server.wait_log("refused", count=6)
    assert f"({SPREAD}/{SPREAD} open)" in server.text
    # a slot given back in one worker can be taken in either
    held.pop().close()
    server.wait_log("disconnect")
    held.append(echo_on(server, b"after one left\n"))
    for sock in held:
        sock.close()
    server.wait_log("disconnect", count=SPREAD + 1)
    assert talk(server.port, b"still\n") == b"still\n"


def test_sigterm_reaches_every_worker_gracefully_and_none_is_left(served):
    server = served("echo", "--workers", "2", "--grace", "20")
    pids = workers_of(server.proc.pid)
    held = [echo_on(server) for _ in range(SPREAD)]
    server.proc.send_signal(signal.SIGTERM)
    assert "stopping 2 workers" in server.wait_log("SIGTERM")
    for pid in pids:  # each worker says it is waiting for its connections
        server.wait_log(f"pid {pid}] stopping:")
    with socket.socket() as late:  # no longer accepting, in any worker
        assert late.connect_ex(server.address) != 0
    for sock in held:  # and everything open is still served within the grace period
        sock.sendall(b"during grace\n")
        assert sock.recv(100) == b"during grace\n"
        sock.close()
    assert server.proc.wait(20) == 0
    assert server.wait_log("stopped (2 workers)")
    assert wait_gone(pids) == []


def test_grace_period_over_closes_connections_in_every_worker(served):
    server = served("echo", "--workers", "2", "--grace", "0.5")
    held = [echo_on(server) for _ in range(SPREAD)]
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(20) == 0
    for sock in held:
        assert read_all(sock) == b""
        sock.close()
    assert len([line for line in server.log if "grace period over" in line]) == 2


def test_workers_stop_when_the_parent_is_killed(served):
    server = served("echo", "--workers", "2")
    pids = workers_of(server.proc.pid)
    server.proc.kill()  # no chance to tell them: they see their pipe close
    server.proc.wait(20)
    assert wait_gone(pids) == []


def test_a_worker_that_dies_stops_the_service_with_exit_1(served):
    server = served("echo", "--workers", "2")
    first, second = workers_of(server.proc.pid)
    os.kill(first, signal.SIGKILL)
    assert server.proc.wait(30) == 1
    assert "killed by SIGKILL" in server.wait_log(f"(pid {first}) ended")
    assert wait_gone([second]) == []


def test_ready_and_pidfile_belong_to_the_parent(served, tmp_path):
    path = str(tmp_path / "notify")
    pidfile = tmp_path / "serve.pid"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(path)
        notify.settimeout(20)
        server = served("echo", "--workers", "2", "--pidfile", pidfile, env={"NOTIFY_SOCKET": path})
        message = notify.recv(4096).decode()
        assert "READY=1" in message.splitlines() and f"MAINPID={server.proc.pid}" in message
        assert "in 2 workers" in message
        assert pidfile.read_text().strip() == str(server.proc.pid)
        held = [echo_on(server) for _ in range(SPREAD)]  # ready means every worker serves
        for sock in held:
            sock.close()
        assert server.stop() == 0
        assert "STOPPING=1" in notify.recv(4096).decode()
    assert not pidfile.exists()


def test_unix_socket_shared_by_workers_and_removed_once_at_stop(served, tmp_path):
    path = str(tmp_path / "echo.sock")
    server = served("echo", "--unix", path, "--workers", "2")
    for _ in range(5):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(path)
            sock.sendall(b"over unix\n")
            sock.shutdown(socket.SHUT_WR)
            assert read_all(sock) == b"over unix\n"
    assert server.stop() == 0 and not os.path.exists(path)


def test_bad_workers_is_one_line_and_exit_2(tmp_path):
    conf = tmp_path / "services.toml"
    conf.write_text('workers = "many"\n[[service]]\nservice = "echo"\nport = 0\n')
    for args in (("echo", "--workers", "0"), ("echo", "--workers", "two"), ("--config", conf)):
        proc = subprocess.run([sys.executable, "-m", "netkit", "serve", *map(str, args)],
                              check=False, capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert "workers" in proc.stderr and "Traceback" not in proc.stderr
