"""What every subcommand's ``main`` does around its work: exit codes and the promise of
one clear line, never a traceback."""

import errno
import sys

__all__ = ["run_command", "dump_json", "is_terminal"]


def is_terminal(stream) -> bool:
    """Whether ``stream`` is a terminal; False for a closed stream or one without isatty()."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or closed
        return False


def dump_json(obj) -> str:
    import json

    from netkit.core.text import json_controls_escaped

    return json_controls_escaped(json.dumps(obj, ensure_ascii=False)) + "\n"


def run_command(command: str, argv, parse, help_text, work, out=None, err=None, failures=()) -> int:
    """``parse(argv) -> request`` (UsageError on bad input: exit 2), then
    ``work(request, out, err) -> exit code``. Exceptions in ``failures`` (a lookup that
    failed, say) are one line on stderr and exit 1; Ctrl-C exits 130, a closed stdout 141,
    and a bug is one line and exit 1 (``NETKIT_DEBUG=1`` shows the traceback)."""
    from netkit.core.errors import UsageError

    out = out or sys.stdout or _Closed()
    err = err or sys.stderr or _Closed()
    try:
        try:
            request = parse(list(argv))
            if request.get("help"):
                from netkit.cli.helptext import fit_help

                out.write(fit_help(help_text(), out))
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
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRNOS:
            return _bug(command, exc, err)
        _say(err, f"{command}: cannot write the output: {exc.strerror or exc}\n")
        return 1
    except Exception as exc:  # a bug: one line, never a traceback
        return _bug(command, exc, err)


# Writing the output failed (a full disk or quota, a file too big, a closed standard
# output): the user's environment, said in one line, not a bug.
_OUTPUT_ERRNOS = frozenset((errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EBADF))


class _Closed:
    """Standard output or error closed (>&-, 2>&-): writing says so with EBADF."""

    def write(self, _text):
        raise OSError(errno.EBADF, "it is closed (>&-)")

    def flush(self):
        pass

    def fileno(self):
        raise OSError(errno.EBADF, "it is closed (>&-)")

    def isatty(self):
        return False


def _say(err, text: str) -> None:
    try:
        err.write(text)
    except OSError:
        pass


def _bug(command: str, exc: BaseException, err) -> int:
    import os

    if os.environ.get("NETKIT_DEBUG"):
        raise exc
    _say(err, f"{command}: internal error: {type(exc).__name__}: {exc} (NETKIT_DEBUG=1 shows where)\n")
    return 1

