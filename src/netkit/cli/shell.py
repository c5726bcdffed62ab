"""What every subcommand's ``main`` does around its work: exit codes and the promise of
one clear line, never a traceback."""

import sys

__all__ = ["run_command", "dump_json"]


def dump_json(obj) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False) + "\n"


def run_command(command: str, argv, parse, help_text, work, out=None, err=None, failures=()) -> int:
    """``parse(argv) -> request`` (UsageError on bad input: exit 2), then
    ``work(request, out, err) -> exit code``. Exceptions in ``failures`` (a lookup that
    failed, say) are one line on stderr and exit 1; Ctrl-C exits 130, a closed stdout 141,
    and a bug is one line and exit 1 (``NETKIT_DEBUG=1`` shows the traceback)."""
    from netkit.core.errors import UsageError

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        try:
            request = parse(list(argv))
            if request.get("help"):
                out.write(help_text())
                return 0
            code = work(request, out, err)
        except UsageError as exc:
            message = str(exc)
            err.write(message + "\n" if message.startswith(command + ":") else f"{command}: {message}\n")
            return 2
        except failures as exc:
            err.write(f"{command}: {exc}\n")
            return 1
        out.flush()
        return code
    except KeyboardInterrupt:
        err.write(f"{command}: interrupted\n")
        return 130
    except BrokenPipeError:
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # a bug: one line, never a traceback
        import os

        if os.environ.get("NETKIT_DEBUG"):
            raise
        err.write(f"{command}: internal error: {type(exc).__name__}: {exc} (NETKIT_DEBUG=1 shows where)\n")
        return 1
