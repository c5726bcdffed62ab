"""How ``netkit ssh`` shows its results: the summary table, --group's folded outputs, --json
lines, the failures on stderr, what finished when interrupted, and get/put's progress rows.
Remote text (errors, outputs, signal names) is escaped for the terminal here, a second wall
after the library's."""

from netkit.core.text import for_terminal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Progress", "grouped", "interrupted", "report_failures", "summary_table", "write_json"]

COMMAND = "netkit ssh"
# Exit codes: every host succeeded; some host failed (its command's status, or an error).
EXIT_OK, EXIT_FAILED = 0, 1


def _seconds_text(seconds):
    return f"{seconds:.2f}s"


def summary_table(results, kind="run") -> str:
    """HOST, STATUS, TIME, ERROR for every host, then one line of counts."""
    rows = []
    for r in results:
        if kind == "run":
            status = "-" if r.returncode is None else str(r.returncode)
            if r.exit_signal and (r.returncode is None or r.returncode < 0):  # -N: signal N
                status = for_terminal(f"SIG{r.exit_signal}")
        else:
            status = "ok" if r.error is None else "failed"
        detail = for_terminal(r.error or "")
        if kind != "run" and r.error is None:
            detail = r.describe()
        rows.append((r.host, status, _seconds_text(r.duration), detail))
    width = max([len("HOST")] + [len(h) for h, *_ in rows])
    status_width = max([len("STATUS")] + [len(s) for _, s, *_ in rows])
    lines = [f"{'HOST':<{width}}  {'STATUS':<{status_width}}  {'TIME':>7}  {'ERROR' if kind == 'run' else 'DETAIL'}"]
    for host, status, took, detail in rows:
        lines.append(f"{host:<{width}}  {status:<{status_width}}  {took:>7}  {detail}".rstrip())
    ok = sum(1 for r in results if r.ok)
    lines.append(f"{len(results)} host{'s' if len(results) != 1 else ''}: {ok} ok, {len(results) - ok} failed")
    return "\n".join(lines) + "\n"


def grouped(results) -> str:
    """clubak's view: each distinct output once, under the hosts that gave it (as kept:
    the last --keep-output bytes of each stream, said when more came)."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for r in results:
        if r.error is not None:
            continue
        key = (r.stdout, r.stderr, r.returncode, r.stdout_dropped, r.stderr_dropped)
        groups.setdefault(key, []).append(r.host)
    blocks = []
    for (stdout, stderr, code, out_cut, err_cut), hosts in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[1])):
        title = f"{','.join(hosts)} ({len(hosts)} host{'s' if len(hosts) != 1 else ''}, exit {code})"
        rule = "-" * min(max(len(title), 15), 78)
        body = f"[... {out_cut} bytes before these not kept (--keep-output)]\n" if out_cut > 0 else ""
        stdout = for_terminal(stdout, keep_newlines=True)
        body += stdout + ("" if not stdout or stdout.endswith("\n") else "\n")
        if err_cut > 0:
            body += f"[stderr] [... {err_cut} bytes before these not kept (--keep-output)]\n"
        if stderr:
            body += "".join(f"[stderr] {for_terminal(line)}\n" for line in stderr.splitlines())
        blocks.append(f"{rule}\n{title}\n{rule}\n{body}")
    return "".join(blocks)


def report_failures(results, err, kind="run"):
    failed = [r for r in results if not r.ok]
    for r in failed:
        if r.error is None and kind == "run":
            how = f"killed by signal {for_terminal(r.exit_signal)}" if r.returncode < 0 and r.exit_signal else \
                f"exit status {r.returncode}"
            err.write(f"{COMMAND} {kind}: {r.host}: {how}\n")
        else:
            err.write(f"{COMMAND} {kind}: {for_terminal(r.error)}\n")
    if failed:
        names = ", ".join(r.host for r in failed[:10]) + (", ..." if len(failed) > 10 else "")
        err.write(f"{COMMAND} {kind}: {len(failed)} of {len(results)} host{'s' if len(results) != 1 else ''} "
                  f"failed: {names}\n")
    return EXIT_FAILED if failed else EXIT_OK


def interrupted(finished, request, out, err, kind) -> int:
    """Ctrl-C: what finished is printed (as it would have been), the rest is named."""
    from netkit.cli.shell import dump_json

    if request["json"]:
        for r in finished:
            out.write(dump_json(r.as_dict()))
    elif finished:
        out.write(summary_table(finished, kind=kind))
    out.flush()
    done = {r.host for r in finished}
    left = [h.label for h in request["hosts"] if h.label not in done]
    err.write(f"{COMMAND} {kind}: interrupted: {len(finished)} of {len(request['hosts'])} hosts finished; "
              f"not finished: {', '.join(left[:10])}{', ...' if len(left) > 10 else ''}\n")
    return 130


class Progress:
    """get/put's two rows in a :mod:`netkit.cli.progress` display: the hosts done of all,
    and the bytes moved (speed, time) with the files done."""

    def __init__(self, display, total_hosts):
        self.hosts = display.task("hosts", total_hosts, "hosts")
        self.data = display.task("data")
        self.done = self.files = self.bytes = 0
        if self.hosts is not None:  # the clocks start now, not at the first file
            self.hosts(0)
            self.data(0, note="0 files")

    def moved(self, nbytes):
        self.bytes += nbytes
        if self.data is not None:
            self.data(self.bytes)

    def file_done(self):
        self.files += 1
        if self.data is not None:
            self.data(self.bytes, note=f"{self.files:,} file{'s' if self.files != 1 else ''}")

    def host_done(self, _result):
        self.done += 1
        if self.hosts is not None:
            self.hosts(self.done)


def write_json(results, out):
    """--json: one object per host, then the summary."""
    from netkit.cli.shell import dump_json

    for r in results:
        out.write(dump_json(r.as_dict()))
    ok = sum(1 for r in results if r.ok)
    out.write(dump_json({"summary": {"hosts": len(results), "ok": ok, "failed": len(results) - ok,
                                     "failed_hosts": [r.host for r in results if not r.ok]}}))
