"""``netkit mirror URL DIR`` (download) or ``netkit mirror DIR URL`` (upload), for ftp://,
ftps:// and sftp:// directories.

Only new or changed files move (same size and modification time to the second: the same
file); each arrives whole (``.part`` / temporary name, then renamed) with the source's
modification time, several at once (``-P``, one connection each). Nothing is deleted
unless ``--delete`` asks (as rsync's: selected files only, and not after a failed copy);
``--dry-run`` shows what would happen. Output: one line per file copied or deleted and a
summary (``--quiet``: errors only). Exit codes: 0 all done, 1 some file failed, 2 bad
input, 130 Ctrl-C.
"""

from netkit.cli.args import flag_table, option_rows, parse_values
from netkit.cli.get import (
    COMMON,
    DEFAULT_PARALLEL,
    build_options,
    check_limits,
    check_ssh_flags,
    limit_options,
    max_filesize_option,
)
from netkit.cli.options import Option, as_given, positive
from netkit.core.errors import NetkitError, UsageError

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
    Option("delete", "flag", as_given, None, "remove the destination's files that the source does not have (only "
           "files the globs select; nothing when a copy failed)"),
    Option("dry-run", "flag", as_given, None, "show what would be copied and deleted; change nothing", short="n"),
    Option("parallel", "one", positive, None, f"files at once, one connection each (default {DEFAULT_PARALLEL})",
           short="P", metavar="N", example="8", default=DEFAULT_PARALLEL),
    Option("json", "flag", as_given, None, "print one JSON object at the end: source, dest, dry_run, ok, copied "
           "[{path, bytes}], unchanged, deleted, failed [{path, error}], kept (and planned for --dry-run)"),
    *limit_options("give up after this long: the whole run (listing, every file, retries), not each file; "
                   "files not copied by then fail, and --delete deletes nothing"),
    max_filesize_option("a file (URL DIR only)"),
    *COMMON,
)
FLAGS = flag_table(OPTIONS)


def help_text() -> str:
    return (
        "usage: netkit mirror URL DIR [OPTIONS]    (remote directory -> local)\n"
        "       netkit mirror DIR URL [OPTIONS]    (local directory -> remote)\n\n"
        "Copy the new and changed files of an ftp://, ftps:// or sftp:// directory tree, keeping\n"
        "modification times. Files arrive whole (a temporary name, renamed when complete); nothing\n"
        "is deleted without --delete. Globs match the path below the top (logs/*.gz) or the file\n"
        "name (*.log); .part files are temporary names and never move.\n"
        "--max-time bounds the whole run (listing, every file, retries), as a cron job's time budget,\n"
        "not each file; --speed-limit holds for each file, and a slow file is retried on a new connection.\n\n"
        "options:\n" + option_rows(OPTIONS) +
        "\nExamples:\n"
        "  netkit mirror sftp://admin@server/var/log/ logs --include '*.log' --include '*.gz'\n"
        "  netkit mirror ftp://ftp.example.com/pub/ pub --exclude '*.iso'\n"
        "  netkit mirror site sftp://www@web/srv/www/ --delete --dry-run\n"
    )


def parse(argv):
    values, positional = parse_values(argv, FLAGS, COMMAND)
    if values.get("help"):
        return {"help": True}
    if len(positional) != 2:
        raise UsageError(f"{COMMAND}: give a URL and a directory: netkit mirror URL DIR (or DIR URL to upload)")
    source, dest = positional
    if not source or not dest:
        raise UsageError(f"{COMMAND}: the {'source' if not source else 'destination'} is an empty name; give a "
                         f"directory, as in netkit mirror URL DIR (or DIR URL to upload)")
    remote = [p for p in positional if "://" in p]
    if len(remote) != 1:
        raise UsageError(f"{COMMAND}: one of the two must be an ftp://, ftps:// or sftp:// URL and the other a "
                         f"local directory (got {source!r} and {dest!r})")
    from netkit.transfer._api import transfer_target

    url = transfer_target(remote[0], ("ftp", "ftps", "sftp"))
    check_ssh_flags(values, [url.scheme], COMMAND)
    check_limits(values, COMMAND)
    if "://" not in source and values.get("max-filesize") is not None:
        raise UsageError(f"{COMMAND}: --max-filesize bounds the files a mirror downloads (URL DIR), not what it "
                         f"uploads; leave it out of DIR URL")
    if "://" not in source:
        import os

        if not os.path.isdir(source):
            raise UsageError(f"{COMMAND}: {source}: not a directory; mirror uploads a directory tree")
    return {"values": values, "source": source, "dest": dest, "url": url}


def work(request, out, err) -> int:
    from netkit.cli.progress import open_display
    from netkit.core.text import for_terminal, format_size
    from netkit.transfer._mirror import mirror

    values, url = request["values"], request["url"]
    options = build_options(values, url, COMMAND)
    as_json = bool(values.get("json"))
    quiet = bool(values.get("quiet")) or as_json
    tasks = {}  # a file's row while it moves

    def start(rel, size):
        tasks[rel] = display.task(rel, size)
        return tasks[rel]

    def on_file(rel, outcome):
        display.retire(tasks.pop(rel, None))  # "copied NAME" (or its error) takes the row's place
        if isinstance(outcome, BaseException):  # names and messages come from the server
            text = str(outcome)
            display.say(err, f"{COMMAND}: {for_terminal(text if repr(rel) in text else f'{rel}: {text}')}\n")
        elif not quiet:
            display.say(out, f"copied {for_terminal(rel)} ({format_size(outcome)})\n")

    def on_delete(rel):
        if not quiet:
            display.say(out, f"deleted {for_terminal(rel)}\n")

    try:
        with open_display(err, not values.get("quiet"), transient=True) as display:
            result = mirror(request["source"], request["dest"], options, values.get("include") or (),
                            values.get("exclude") or (), start, on_file, delete=bool(values.get("delete")),
                            dry_run=bool(values.get("dry-run")), workers=values["parallel"], on_delete=on_delete)
    except NetkitError as exc:
        err.write(f"{COMMAND}: {exc}\n")
        return 2 if isinstance(exc, UsageError) else 1
    if as_json:
        from netkit.cli.shell import dump_json

        out.write(dump_json(_record(result)))
    if result.kept:
        err.write(f"{COMMAND}: not deleting {len(result.kept)} file(s) the source does not have: "
                  f"{len(result.failed)} failed to copy (run again once they do)\n")
    if result.dry_run:
        if not quiet:
            for rel, size in result.planned:
                out.write(f"would copy {for_terminal(rel)} ({format_size(size or 0)})\n")
            for rel in result.deleted:
                out.write(f"would delete {for_terminal(rel)}\n")
            planned = sum(size or 0 for _, size in result.planned)
            deletes = f", {len(result.deleted)} to delete" if values.get("delete") else ""
            out.write(f"dry run: {len(result.planned)} to copy ({format_size(planned)}), "
                      f"{len(result.unchanged)} unchanged{deletes}; nothing was changed\n")
        return 0
    if not quiet:
        deleted = f", {len(result.deleted)} deleted" if values.get("delete") else ""
        out.write(f"{len(result.copied)} copied ({format_size(result.bytes)}), {len(result.unchanged)} unchanged"
                  f"{deleted}, {len(result.failed)} failed\n")
    return 1 if result.failed else 0


def _record(result) -> dict:
    """The mirror's outcome as --json prints it."""
    from netkit.core.secrets import mask_url  # a password given in the URL is not printed back

    record = {"source": mask_url(result.source), "dest": mask_url(result.dest), "dry_run": result.dry_run,
              "ok": not result.failed,
              "copied": [{"path": rel, "bytes": size} for rel, size in result.copied],
              "unchanged": len(result.unchanged), "deleted": list(result.deleted),
              "failed": [{"path": rel, "error": str(exc), "error_kind": type(exc).__name__}
                         for rel, exc in result.failed],
              "kept": list(result.kept)}
    if result.dry_run:
        record["planned"] = [{"path": rel, "bytes": size} for rel, size in result.planned]
    return record


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command

    return run_command(COMMAND, argv, parse, help_text, work, out, err)
