"""``netkit COMMAND ...``: dispatch to a subcommand, loading only that one."""

import errno
import sys

from netkit import __version__

__all__ = ["main"]

COMMANDS = {
    "check": ("netkit.cli.check", "check services as Nagios plugins do: tcp, udp, tls, http(s), ftp, smtp, "
              "pop3, imap, ssh, dns"),
    "scan": ("netkit.cli.scan", "TCP connect port scan of hosts and networks, as fast as nmap -sT"),
    "get": ("netkit.cli.get", "download http(s), ftp(s), sftp and file URLs: resume, retries, checksums, atomic"),
    "put": ("netkit.cli.put", "upload a file to ftp(s), sftp or http (PUT/POST), atomically"),
    "mirror": ("netkit.cli.mirror", "mirror an ftp or sftp directory to a local one, or back"),
    "ssh": ("netkit.cli.ssh", "run commands and move files on many hosts at once over SSH"),
    "serve": ("netkit.cli.serve", "small hardened services: echo, reverse, time, discard, chargen"),
    "connect": ("netkit.cli.connect", "talk to a TCP, UDP, TLS or Unix socket service from stdin/stdout"),
    "send": ("netkit.cli.send", "send one request to a service and print its reply"),
    "sockopt": ("netkit.cli.sockopt", "socket options: list what this platform has, read a live connection's"),
    "dns": ("netkit.cli.dns", "look up DNS records (A, AAAA, MX, TXT, ...), reverse names (-x), this host's names"),
    "service": ("netkit.cli.service", "service name to port and back (https <-> 443/tcp)"),
    "rpc": ("netkit.cli.rpc", "serve functions over XML-RPC, JSON-RPC, Pyro or Twisted PB, safely; call them"),
    "monitor": ("netkit.cli.monitor", "every check on a schedule: states, alerts, history, Prometheus metrics"),
    "packets": ("netkit.cli.packets", "packets by hand: DNS query, ARP sweep, TCP traceroute with a graph, sniffing"),
    "url": ("netkit.cli.url", "parse, quote, unquote, join, encode and decode URLs and query strings"),
    "mail": ("netkit.cli.mail", "send mail (and test servers, as swaks), list and fetch POP3/IMAP mailboxes"),
    "completion": ("netkit.cli.completion", ("print the bash, zsh or fish completion script (generated from "
                                             "the option tables)")),
    "config": ("netkit.cli.config", "show the defaults in effect (config.toml, NETKIT_*) and where each came from"),
}

USAGE = f"""\
usage: netkit COMMAND [OPTIONS] ...

netkit {__version__}: the system administrator's network toolkit.

commands:
""" + "".join(f"  {name:<10} {help}\n" for name, (_, help) in COMMANDS.items()) + """
Run 'netkit COMMAND --help' (or 'netkit help COMMAND') for a command's options.
Defaults come from ~/.config/netkit/config.toml and NETKIT_* variables (netkit config
--help); --no-config on any command skips them.
"""


def _unknown(word: str) -> int:
    from netkit.cli.args import suggest

    return _write(sys.stderr, f"netkit: unknown command {word!r}{suggest(word, COMMANDS)}; "
                              f"commands: {', '.join(COMMANDS)} (see netkit --help)\n", 2)


def _write(stream, text: str, code: int) -> int:
    """``text`` to ``stream`` and ``code``; 1 and one line when it cannot be written (a
    full disk, a closed stream)."""
    try:
        if stream is None:
            raise OSError(errno.EBADF, "it is closed (>&-)")
        stream.write(text)
        stream.flush()
    except (OSError, ValueError) as exc:
        try:
            sys.stderr.write(f"netkit: cannot write the output: {getattr(exc, 'strerror', None) or exc}\n")
        except (OSError, AttributeError, ValueError):
            pass
        return 1
    return code


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # a mistake, not a request for help: usage on stderr, as a usage error
        return _write(sys.stderr, USAGE, 2)
    if argv[0] == "help" and len(argv) > 1 and argv[1] not in ("help", "-h", "--help"):  # scan's own help
        if argv[1] not in COMMANDS:
            return _unknown(argv[1])
        argv = [argv[1], "--help"]
    elif argv[0] in ("-h", "--help", "help"):
        from netkit.cli.helptext import fit_help

        return _write(sys.stdout, fit_help(USAGE, sys.stdout), 0)
    if argv[0] in ("--version", "-V"):
        return _write(sys.stdout, f"netkit {__version__}\n", 0)
    entry = COMMANDS.get(argv[0])
    if entry is None:
        return _unknown(argv[0])
    import importlib

    command = importlib.import_module(entry[0])
    if argv[0] != "check":  # the collector is off while netkit starts (bin/netkit): on for the work
        import gc

        gc.enable()
    return command.main(argv[1:])
