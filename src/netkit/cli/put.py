"""``netkit put FILE URL``: upload to ftp://, ftps://, sftp:// (to a temporary name,
renamed when complete) or http(s):// (the body of a PUT, or POST with ``-X POST``).

A URL ending in "/" names a directory: the file keeps its name there. Exit codes: 0
uploaded, 1 failed (one line on stderr), 2 bad input, 130 Ctrl-C.
"""

import os

from netkit.cli.args import flag_table, option_rows, parse_values
from netkit.cli.get import (
    COMMON,
    build_options,
    check_limits,
    check_ssh_flags,
    limit_options,
    retry_notice,
)
from netkit.cli.options import Option, as_given
from netkit.core.errors import NetkitError, UsageError

__all__ = ["help_text", "main"]

COMMAND = "netkit put"


OPTIONS = (
    Option("request", "one", as_given, None, "http: PUT (default) or POST", short="X", metavar="METHOD",
           example="POST"),
    Option("content-type", "one", as_given, None, "http: the Content-Type of the body (default "
           "application/octet-stream)", metavar="TYPE", example="text/csv"),
    *limit_options("give up after this long in all, retries included (as curl -m); never retried"),
    *COMMON,
)
FLAGS = flag_table(OPTIONS)


def help_text() -> str:
    return (
        "usage: netkit put FILE URL [OPTIONS]\n\n"
        "Upload FILE to ftp://, ftps://, sftp:// or http(s)://. On ftp and sftp the data goes to\n"
        ".NAME.part beside the target and is renamed when complete: readers never see half a file.\n"
        "A URL ending in '/' is a directory: the file keeps its name.\n\n"
        "options:\n" + option_rows(OPTIONS) +
        "\nExamples:\n"
        "  netkit put backup.tar sftp://admin@server/srv/backups/\n"
        "  netkit put report.csv ftp://user@ftp.example.com/in/report.csv --password-env FTP_PASSWORD\n"
        "  netkit put data.json https://api.example.com/upload -X POST --content-type application/json\n"
    )


def parse(argv):
    values, positional = parse_values(argv, FLAGS, COMMAND)
    if values.get("help"):
        return {"help": True}
    if len(positional) != 2:
        raise UsageError(f"{COMMAND}: give a file and a URL, as in netkit put FILE sftp://user@host/dir/")
    path, url_text = positional
    from netkit.transfer._api import transfer_target

    url = transfer_target(url_text, ("http", "https", "ftp", "ftps", "sftp"))
    if not os.path.isfile(path):
        what = "is not a file" if os.path.exists(path) else "no such file"
        raise UsageError(f"{COMMAND}: {path}: {what}; put uploads one file (netkit mirror DIR URL for a directory)")
    if values.get("continue"):
        raise UsageError(f"{COMMAND}: -c resumes downloads; an upload starts over at a temporary name")
    http = url.scheme in ("http", "https")
    for name in ("request", "content-type"):
        if values.get(name) and not http:
            raise UsageError(f"{COMMAND}: --{name} is for http:// and https:// URLs, not {url.scheme}://")
    method = (values.get("request") or "PUT").upper()
    if method not in ("PUT", "POST"):
        raise UsageError(f"{COMMAND}: -X {values['request']}: put sends PUT or POST")
    check_ssh_flags(values, [url.scheme], COMMAND)
    check_limits(values, COMMAND)
    return {"values": values, "path": path, "url": url, "method": method}


def work(request, out, err) -> int:
    from netkit.cli.progress import open_display
    from netkit.transfer._api import upload

    values, url = request["values"], request["url"]
    options = build_options(values, url, COMMAND, content_type=values.get("content-type"))
    try:
        with open_display(err, not values.get("quiet")) as display:
            result = upload(request["path"], url, options, display.task(os.path.basename(request["path"])),
                            retry_notice(values, display, err, COMMAND), request["method"])
    except NetkitError as exc:
        text = str(exc)
        err.write(f"{COMMAND}: {text if url.url() in text else url.url() + ': ' + text}\n")
        return 2 if isinstance(exc, UsageError) else 1
    if result.body:  # what an HTTP server answered, as curl shows it
        out.flush()
        out.buffer.write(result.body) if hasattr(out, "buffer") else out.write(result.body.decode("utf-8", "replace"))
    return 0


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command

    return run_command(COMMAND, argv, parse, help_text, work, out, err)
