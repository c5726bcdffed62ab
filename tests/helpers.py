"""Run the real command as users do: a child process, its stdout, its exit code."""

import json
import os
import subprocess
import sys


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
