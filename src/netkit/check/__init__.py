"""``netkit check``: service checks that speak the Nagios plugin contract.

Library use: one typed check per family, run blocking, on asyncio, or many at once::

    from netkit import Timeout
    from netkit.check import HttpCheck, TcpCheck, check, check_many

    result = check(HttpCheck("https://example.com/", status="200", cert_warn=30, timeout=Timeout(5)))
    print(result.status.label, result.summary)
    results = check_many([HttpCheck("https://example.com/"), TcpCheck("tcp://example.com:22", expect="SSH-")])

``check_target(url, **options)``, ``build_spec`` and ``run_checks`` are the older spellings
of the same (the URL's scheme picks the family): kept for callers that have them.

Imports are lazy: ``netkit.check`` itself loads nothing until a name is used.
"""

TYPE_CHECKING = False

__all__ = [
    "CheckResult",
    "CheckSpec",
    "DnsCheck",
    "FtpCheck",
    "HttpCheck",
    "ImapCheck",
    "Pop3Check",
    "SmtpCheck",
    "SshCheck",
    "TcpCheck",
    "TlsCheck",
    "UdpCheck",
    "build_spec",
    "check",
    "check_async",
    "check_many",
    "check_target",
    "load_checks",
    "run_checks",
]

# Not netkit.core.lazy: this package is on the start-up path of every ``netkit check``.
_SPECS = "netkit.check._specs"
_LAZY = {
    "CheckResult": ("netkit.check.result", "CheckResult"),
    "CheckSpec": ("netkit.check.spec", "CheckSpec"),
    "load_checks": ("netkit.check.file", "load_checks"),
    **{name: (_SPECS, name) for name in ("DnsCheck", "FtpCheck", "HttpCheck", "ImapCheck", "Pop3Check", "SmtpCheck",
                                         "SshCheck", "TcpCheck", "TlsCheck", "UdpCheck", "check", "check_async",
                                         "check_many")},
}
if TYPE_CHECKING:  # what mypy and IDEs see: _LAZY's names (tests/test_exported_members.py)
    from collections.abc import Callable, Iterable

    from netkit.check._specs import AnyCheck
    from netkit.check._specs import DnsCheck as DnsCheck
    from netkit.check._specs import FtpCheck as FtpCheck
    from netkit.check._specs import HttpCheck as HttpCheck
    from netkit.check._specs import ImapCheck as ImapCheck
    from netkit.check._specs import Pop3Check as Pop3Check
    from netkit.check._specs import SmtpCheck as SmtpCheck
    from netkit.check._specs import SshCheck as SshCheck
    from netkit.check._specs import TcpCheck as TcpCheck
    from netkit.check._specs import TlsCheck as TlsCheck
    from netkit.check._specs import UdpCheck as UdpCheck
    from netkit.check._specs import check as check
    from netkit.check._specs import check_async as check_async
    from netkit.check._specs import check_many as check_many
    from netkit.check.file import load_checks as load_checks
    from netkit.check.result import CheckResult as CheckResult
    from netkit.check.spec import CheckSpec as CheckSpec


def build_spec(url: str, **options: object) -> "CheckSpec":
    """The CheckSpec of ``url`` with ``options`` as keywords of its family's typed check
    (``HttpCheck`` for https://): ``build_spec(url, status="200")``."""
    from netkit.check._specs import from_url

    return from_url(url, **options).spec


def check_target(url: str, *, verbose: bool = False, **options: object) -> "CheckResult":
    """Run one check now (blocking) and return its :class:`CheckResult`: ``check`` of the
    typed check of ``url``'s family with ``options``."""
    from netkit.check._specs import check, from_url

    return check(from_url(url, **options), verbose=verbose)


def run_checks(specs: "Iterable[AnyCheck | CheckSpec]", *, concurrency: int = 100, verbose: bool = False,
               on_result: "Callable[[int, CheckResult], object] | None" = None) -> "list[CheckResult]":
    """Run many checks concurrently; results in the order given (as ``check_many``)."""
    from netkit.check._specs import check_many

    return check_many(specs, concurrency=concurrency, verbose=verbose, on_result=on_result)


if not TYPE_CHECKING:  # mypy then reports a misspelt name instead of typing it Any

    def __getattr__(name):
        if name in _LAZY:
            import importlib

            module, attr = _LAZY[name]
            return getattr(importlib.import_module(module), attr)
        raise AttributeError(f"module 'netkit.check' has no attribute {name!r}")

    def __dir__():
        return sorted(set(globals()) | set(__all__))
