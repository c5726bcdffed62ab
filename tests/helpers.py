"""Run the real command as users do: a child process, its stdout, its exit code."""

import contextlib
import itertools
import json
import os
import subprocess
import sys

_tables = itertools.count()


PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def clean_env(env=None) -> dict:
    """Our environment without proxy settings (every request goes to the loopback peer
    directly), plus ``env``."""
    full = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    full.update(env or {})
    return full


def run_netkit(*args, cwd=None, env=None, timeout=60, stdin=subprocess.DEVNULL, text=True):
    """``netkit ARGS`` -> (exit code, stdout, stderr): text (newlines translated), or stdout
    as bytes with ``text=False`` (stderr is text either way). Never a traceback."""
    proc = subprocess.run([sys.executable, "-m", "netkit", *map(str, args)], capture_output=True, cwd=cwd,
                          env=clean_env(env), timeout=timeout, stdin=stdin, check=False, text=text)
    out = proc.stdout
    err = proc.stderr if text else proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err + (out if text else ""), err
    return proc.returncode, out, err


def netkit(*args, env=None, timeout=60, stdin=subprocess.DEVNULL):
    """``netkit ARGS`` -> (exit code, stdout)."""
    return run_netkit(*args, env=env, timeout=timeout, stdin=stdin)[:2]


def ssh(*args, env=None, timeout=60):
    """``netkit ssh ARGS`` -> (exit code, stdout, stderr)."""
    return run_netkit("ssh", *args, env=env, timeout=timeout)


def ssh_auth(fleet, known_hosts=None) -> list:
    """netkit ssh options for a test sshd (fleet): its client key and known_hosts only."""
    return ["-i", fleet.client_key, "--known-hosts", known_hosts or fleet.known_hosts, "-F", "none", "--no-agent"]


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


def read_pty(fd, *, until=None, answer=None, timeout=20.0) -> bytes:
    """What the pseudo-terminal ``fd`` shows until its other side closes it (EOF, or EIO),
    ``until`` appears, or ``timeout`` seconds pass. ``answer``: (prompt, reply), the reply
    typed once the prompt has appeared."""
    import select
    import time

    seen = b""
    answered = False
    deadline = time.monotonic() + timeout
    while until is None or until not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if answer is not None and not answered and answer[0] in seen:
            os.write(fd, answer[1])
            answered = True
    return seen


def interrupted(*args, after: float, timeout: float = 30, ready=None):
    """Run ``netkit ARGS``, send Ctrl-C after ``after`` seconds; (exit code, stdout, stderr).

    ``ready``: a callable; Ctrl-C is sent once it returns true (polled, at most ``timeout``
    seconds) instead of after a fixed time, so a loaded machine that is slow to log in does
    not get its Ctrl-C before the work it should interrupt has begun."""
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "netkit", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=clean_env())
    if ready is None:
        time.sleep(after)
    else:
        give_up = time.monotonic() + timeout
        while not ready() and proc.poll() is None and time.monotonic() < give_up:
            time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err
