"""Many checks at once: --file and several URLs, on the asyncio driver."""

import json

import pytest

from netkit.check import build_spec, run_checks
from netkit.check.run import run_one
from tests.helpers import check, check_json


def write_checks(tmp_path, body):
    path = tmp_path / "checks.toml"
    path.write_text(body)
    return str(path)


def test_file_sweep_prints_in_file_order_and_exits_with_the_worst(tmp_path, nginx, closed_port, udp_echo):
    path = write_checks(tmp_path, f"""
[defaults]
timeout = 3

[[check]]
name = "web"
url = "{nginx.url('/')}"
body = "hello netkit"

[[check]]
name = "missing"
url = "{nginx.url('/status/404')}"

[[check]]
name = "slowish"
url = "{nginx.url('/')}"
warning = "@0:100"

[[check]]
name = "closed"
url = "tcp://127.0.0.1:{closed_port.port}"

[[check]]
name = "echo"
url = "udp://127.0.0.1:{udp_echo.port}"
send = "hi"
expect = "echo:hi"
""")
    code, out = check("--file", path)
    lines = out.splitlines()
    assert [line.split(" ", 2)[:2] for line in lines] == [
        ["web", "OK"], ["missing", "CRITICAL"], ["slowish", "WARNING"], ["closed", "CRITICAL"], ["echo", "OK"]]
    assert code == 2


def test_several_urls_and_json_lines(nginx, udp_echo):
    code, results = check_json(nginx.url("/"), nginx.url("/status/503"), nginx.url("/redirect"))
    assert code == 2
    assert [r["status"] for r in results] == ["OK", "CRITICAL", "OK"]
    assert [r["target"] for r in results] == [nginx.url("/"), nginx.url("/status/503"), nginx.url("/redirect")]


def test_worst_status_ranks_unknown_below_warning(tmp_path, nginx):
    # CRITICAL > WARNING > UNKNOWN > OK, as monitoring-plugins' max_state_alt.
    code, _ = check(nginx.url("/"), nginx.url("/"), "-w", "@0:100")
    assert code == 1


def test_cli_options_apply_to_file_checks(tmp_path, nginx):
    path = write_checks(tmp_path, f'[[check]]\nurl = "{nginx.url("/")}"\n[[check]]\nurl = "{nginx.url("/")}"\n')
    code, results = check_json("--file", path, "--status", "201")
    assert code == 2 and {r["status"] for r in results} == {"CRITICAL"}


def test_large_sweep_all_ok(tmp_path, nginx):
    body = "".join(f'[[check]]\nurl = "{nginx.url("/")}?n={i}"\n' for i in range(300))
    code, out = check("--file", write_checks(tmp_path, body), "--concurrency", "50")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 300 and all(line.startswith("HTTP OK") for line in lines)
    assert [line.split()[3] for line in lines] == [f'{nginx.url("/")}?n={i}' for i in range(300)]


def cases(nginx, pki, udp_echo, closed_port, http_proxy):
    ca = str(pki.ca_file)
    return [
        (nginx.url("/"), {"body": "hello netkit"}),
        (nginx.url("/r1"), {"follow": True}),
        (nginx.url("/status/404"), {}),
        (nginx.url("/", scheme="https"), {"cacert": ca, "cert_warn": 30}),
        (nginx.url("/", scheme="https", port=nginx.soon_port), {"cacert": ca, "cert_warn": 30}),
        (nginx.url("/", scheme="https", port=nginx.expired_port), {"cacert": ca}),
        (nginx.url("/", scheme="https"), {"cacert": ca, "proxy": http_proxy.url}),
        (nginx.url("/chunked"), {"body": "hello chunked"}),
        (f"tls://127.0.0.1:{nginx.https_port}", {"cacert": ca, "sni": "alt.test"}),
        (f"tcp://127.0.0.1:{nginx.https_port}", {"tls": True, "cacert": ca}),
        (f"tcp://127.0.0.1:{closed_port.port}", {"refuse": "warn"}),
        (f"udp://127.0.0.1:{udp_echo.port}", {"send": "x", "expect": "echo:x"}),
        (f"udp://127.0.0.1:{udp_echo.port}", {"send": "x", "expect": "nope"}),
    ]


def test_both_drivers_agree(nginx, pki, udp_echo, closed_port, http_proxy):
    """One dialogue, two drivers: blocking and asyncio give the same verdicts."""
    specs = [build_spec(url, **opts) for url, opts in cases(nginx, pki, udp_echo, closed_port, http_proxy)]
    many = run_checks(specs, concurrency=4)
    one = [run_one(spec) for spec in specs]
    for a, b in zip(many, one):
        assert (a.status, a.error is None) == (b.status, b.error is None), (a, b)
        assert sorted(m.label for m in a.metrics) == sorted(m.label for m in b.metrics)
    assert [r.status.label for r in one] == ["OK", "OK", "CRITICAL", "OK", "WARNING", "CRITICAL", "OK", "OK", "OK",
                                             "OK", "WARNING", "OK", "WARNING"]


def test_async_timeouts_and_verbose(silent_tcp, nginx):
    specs = [build_spec(f"tcp://127.0.0.1:{silent_tcp.port}", expect="x", timeout=1),
             build_spec(nginx.url("/"))]
    timeout, ok = run_checks(specs, verbose=True)
    assert timeout.status.label == "CRITICAL" and "timeout after 1 s waiting for data" in timeout.summary
    assert ok.dialogue and ok.dialogue[1].startswith("> GET / HTTP/1.1")


def test_library_check_target(nginx):
    from netkit.check import check_target

    result = check_target(nginx.url("/"), status="200")
    assert result.status == 0 and result.to_dict()["details"]["status_code"] == 200
    with pytest.raises(Exception, match="unknown check option"):
        check_target(nginx.url("/"), colour="blue")


def test_make_run_example_runs(nginx):
    code, out = check("--file", "examples/localhost.toml", "--json")
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["name"] for r in results] == ["ssh", "smtp", "web", "dns", "cups"]
    assert all(r["status"] in ("OK", "WARNING", "CRITICAL") for r in results)


def served(nginx, marker) -> int:
    """How many requests carrying ``marker`` nginx has answered (its access log)."""
    return nginx.access_log.read_text().count(marker)


def interrupt_sweep(path, ready):
    """Start ``netkit check --file path``, send Ctrl-C once ``ready()``; (exit code, lines)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    proc = subprocess.Popen([sys.executable, "-m", "netkit", "check", "--file", path], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 20
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the last answers travel from nginx through netkit's workers
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert "Traceback" not in err, err
    return proc.returncode, out.splitlines()


def test_ctrl_c_prints_what_finished(tmp_path, nginx, silent_tcp):
    body = f'[[check]]\nurl = "tcp://127.0.0.1:{silent_tcp.port}"\nexpect = "x"\n'
    body += f'[[check]]\nname = "fast"\nurl = "{nginx.url("/")}?ctrl-c-single"\n'
    code, lines = interrupt_sweep(write_checks(tmp_path, body),
                                  lambda: silent_tcp.accepted() >= 1 and served(nginx, "ctrl-c-single") >= 1)
    assert code == 3
    assert lines[0].startswith("fast OK") and lines[-1] == "NETKIT UNKNOWN - interrupted: 1 of 2 checks finished"


def test_ctrl_c_in_a_multi_process_sweep(tmp_path, nginx, silent_tcp):
    from netkit.check.forked import MIN_CHECKS_PER_WORKER

    n = 2 * MIN_CHECKS_PER_WORKER  # enough for two worker processes
    body = ""
    for i in range(n):
        if i % 10 == 0:
            body += f'[[check]]\nurl = "tcp://127.0.0.1:{silent_tcp.port}"\nexpect = "x"\n'
        else:
            body += f'[[check]]\nurl = "{nginx.url("/")}?ctrl-c-multi={i}"\n'
    code, lines = interrupt_sweep(
        write_checks(tmp_path, body),
        lambda: served(nginx, "ctrl-c-multi=") >= n - n // 10)  # the silent ones wait 10 s
    ok = [line for line in lines if line.startswith("HTTP OK")]
    assert code == 3 and len(ok) == n - n // 10 and len(lines) == len(ok) + 1
    assert lines[-1] == f"NETKIT UNKNOWN - interrupted: {len(ok)} of {n} checks finished"


@pytest.mark.parametrize("n", [50, 400])  # one process, and forked workers
def test_reader_going_away_stops_quietly(tmp_path, nginx, n):
    """netkit check --file ... | head -1: exit 141 as SIGPIPE would, no traceback."""
    import os
    import subprocess
    import sys

    body = "".join(f'[[check]]\nurl = "{nginx.url("/")}?pipe={i}"\n' for i in range(n))
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    proc = subprocess.Popen([sys.executable, "-m", "netkit", "check", "--file", write_checks(tmp_path, body),
                             "--concurrency", "4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=30) == 141
    assert first.startswith(b"HTTP OK") and err == b""


def test_tight_descriptor_limit_still_sweeps_everything(tmp_path, nginx):
    import os
    import resource
    import subprocess
    import sys

    body = "".join(f'[[check]]\nurl = "{nginx.url("/")}?fd={i}"\n' for i in range(300))

    def tight():
        resource.setrlimit(resource.RLIMIT_NOFILE, (100, 100))

    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    proc = subprocess.run([sys.executable, "-m", "netkit", "check", "--file", write_checks(tmp_path, body),
                           "--concurrency", "1000"], capture_output=True, text=True, env=env, preexec_fn=tight,
                          timeout=60)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and len(lines) == 300 and all(line.startswith("HTTP OK") for line in lines)
