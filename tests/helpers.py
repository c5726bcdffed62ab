"""Run the real command as users do: a child process, its stdout, its exit code."""

import contextlib
import itertools
import json
import os
import subprocess
import sys

_tables = itertools.count()


def netkit(*args, env=None, timeout=60, stdin=subprocess.DEVNULL):
    """``netkit ARGS`` -> (exit code, stdout). Stderr must stay empty of tracebacks."""
    full_env = dict(os.environ)
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        full_env.pop(name, None)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "netkit", *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout, stdin=stdin)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr + proc.stdout
    return proc.returncode, proc.stdout


def check(*args, **kw):
    return netkit("check", *args, **kw)


def check_json(*args, **kw):
    """(exit code, [result objects])."""
    code, out = check("--json", *args, **kw)
    return code, [json.loads(line) for line in out.splitlines()]


@contextlib.contextmanager
def dropping(match: str):
    """An nftables rule that drops incoming packets matching ``match`` (nft syntax, e.g.
    ``ip daddr 127.0.0.3``) for the duration of the block: filtered ports for real."""
    table = f"netkit_drop_{os.getpid()}_{next(_tables)}"
    rule = (f"add table inet {table}\nadd chain inet {table} input {{ type filter hook input priority -10; }}\n"
            f"add rule inet {table} input {match} drop\n")
    subprocess.run(["nft", "-f", "-"], input=rule, text=True, check=True)
    try:
        yield
    finally:
        subprocess.run(["nft", "delete", "table", "inet", table], check=True)


def interrupted(*args, after: float, timeout: float = 30):
    """Run ``netkit ARGS``, send Ctrl-C after ``after`` seconds; (exit code, stdout, stderr)."""
    import signal
    import time

    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    proc = subprocess.Popen([sys.executable, "-m", "netkit", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err
