"""``netkit mirror URL DIR`` (download) or ``netkit mirror DIR URL`` (upload), for ftp://,
ftps:// and sftp:// directories.

Only new or changed files move (same size and modification time to the second: the same
file); each arrives whole (``.part`` / temporary name, then renamed) with the source's
modification time. Nothing is deleted. Output: one line per file copied and a summary
(``--quiet``: errors only). Exit codes: 0 all done, 1 some file failed, 2 bad input,
130 Ctrl-C.
"""

from netkit.cli.args import flag_table, option_rows, parse_values
from netkit.cli.get import COMMON, Progress, build_options, show_progress
from netkit.core.errors import NetkitError, UsageError
from netkit.core.options import Option

__all__ = ["help_text", "main"]

COMMAND = "netkit mirror"


def _glob(text):
    text = str(text)
    if not text:
        raise ValueError("expects a glob like '*.log' or 'logs/*.gz'")
    return text


OPTIONS = (
    Option("include", "many", _glob, None, "only files matching this glob (path or name; repeatable)",
           metavar="GLOB", example="'*.log'"),
    Option("exclude", "many", _glob, None, "skip files matching this glob (repeatable)", metavar="GLOB",
           example="'*.tmp'"),
    *COMMON,
)
FLAGS = flag_table(OPTIONS)


def help_text() -> str:
    return (
        "usage: netkit mirror URL DIR [OPTIONS]    (remote directory -> local)\n"
        "       netkit mirror DIR URL [OPTIONS]    (local directory -> remote)\n\n"
        "Copy the new and changed files of an ftp://, ftps:// or sftp:// directory tree, keeping\n"
        "modification times. Files arrive whole (a temporary name, renamed when complete); nothing\n"
        "is deleted. Globs match the path below the top (logs/*.gz) or the file name (*.log).\n\n"
        "options:\n" + option_rows(OPTIONS) +
        "\nExamples:\n"
        "  netkit mirror sftp://admin@server/var/log/ logs --include '*.log' --include '*.gz'\n"
        "  netkit mirror ftp://ftp.example.com/pub/ pub --exclude '*.iso'\n"
        "  netkit mirror site sftp://www@web/srv/www/\n"
    )


def parse(argv):
    values, positional = parse_values(argv, FLAGS, COMMAND)
    if values.get("help"):
        return {"help": True}
    if len(positional) != 2:
        raise UsageError(f"{COMMAND}: give a URL and a directory: netkit mirror URL DIR (or DIR URL to upload)")
    source, dest = positional
    remote = [p for p in positional if "://" in p]
    if len(remote) != 1:
        raise UsageError(f"{COMMAND}: one of the two must be an ftp://, ftps:// or sftp:// URL and the other a "
                         f"local directory (got {source!r} and {dest!r})")
    from netkit.transfer._api import parse_url

    url = parse_url(remote[0], ("ftp", "ftps", "sftp"))
    if (values.get("identity") or values.get("known-hosts")) and url.scheme != "sftp":
        raise UsageError(f"{COMMAND}: --identity and --known-hosts are for sftp:// URLs, not {url.scheme}://")
    if "://" not in source:
        import os

        if not os.path.isdir(source):
            raise UsageError(f"{COMMAND}: {source}: not a directory; mirror uploads a directory tree")
    return {"values": values, "source": source, "dest": dest, "url": url}


def work(request, out, err) -> int:
    from netkit.core.text import format_size
    from netkit.transfer._mirror import mirror

    values, url = request["values"], request["url"]
    options = build_options(values, url, COMMAND)
    quiet = bool(values.get("quiet"))
    progress = Progress(err, show_progress(values, err))

    def on_file(rel, outcome):
        progress.close()
        progress.rows.clear()
        if isinstance(outcome, BaseException):
            err.write(f"{COMMAND}: {rel}: {outcome}\n")
        elif not quiet:
            out.write(f"copied {rel} ({format_size(outcome)})\n")
            out.flush()

    try:
        result = mirror(request["source"], request["dest"], options, values.get("include") or (),
                        values.get("exclude") or (), lambda rel, size: progress.line(rel), on_file)
    except NetkitError as exc:
        progress.close()
        err.write(f"{COMMAND}: {exc}\n")
        return 2 if isinstance(exc, UsageError) else 1
    if not quiet:
        out.write(f"{len(result.copied)} copied ({format_size(result.bytes)}), {len(result.unchanged)} unchanged, "
                  f"{len(result.failed)} failed\n")
    return 1 if result.failed else 0


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command

    return run_command(COMMAND, argv, parse, help_text, work, out, err)
