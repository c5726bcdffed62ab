"""``netkit check``: service checks that speak the Nagios plugin contract.

Library use::

    from netkit.check import check_target
    result = check_target("https://example.com/", status="200", timeout=5)
    print(result.status.label, result.summary)

Imports are lazy: ``netkit.check`` itself loads nothing until a name is used.
"""

TYPE_CHECKING = False

__all__ = [
    "CheckResult",
    "CheckSpec",
    "build_spec",
    "check_target",
    "load_checks",
    "run_checks",
]

# Not netkit.core.lazy: this package is on the start-up path of every ``netkit check``.
_LAZY = {
    "CheckResult": ("netkit.check.result", "CheckResult"),
    "CheckSpec": ("netkit.check.spec", "CheckSpec"),
    "load_checks": ("netkit.check.file", "load_checks"),
}
if TYPE_CHECKING:  # what mypy and IDEs see: _LAZY's names (tests/test_exported_members.py)
    from netkit.check.file import load_checks as load_checks
    from netkit.check.result import CheckResult as CheckResult
    from netkit.check.spec import CheckSpec as CheckSpec


def build_spec(url: str, **options):
    """A CheckSpec from a URL and options named as on the command line (dashes as underscores)."""
    from netkit.check.file import parse_value
    from netkit.check.options import BY_NAME
    from netkit.check.spec import make_spec, parse_check_target
    from netkit.core.errors import UsageError

    target = parse_check_target(url)
    opts = {}
    for key, value in options.items():
        name = key.replace("_", "-")
        if name not in BY_NAME:
            raise UsageError(f"unknown check option {key!r}")
        opts[name] = parse_value(BY_NAME[name], value, lambda n: n)
    return make_spec(target, opts, spell=lambda n: n.replace("-", "_"))


def check_target(url: str, *, verbose: bool = False, **options):
    """Run one check now (blocking) and return its :class:`CheckResult`."""
    from netkit.check.run import run_one

    return run_one(build_spec(url, **options), verbose)


def run_checks(specs, *, concurrency: int = 100, verbose: bool = False, on_result=None):
    """Run many :class:`CheckSpec` concurrently; results in the order given."""
    from netkit.check.run import run_many

    return run_many(specs, concurrency=concurrency, verbose=verbose, on_result=on_result)


if not TYPE_CHECKING:  # mypy then reports a misspelt name instead of typing it Any

    def __getattr__(name):
        if name in _LAZY:
            import importlib

            module, attr = _LAZY[name]
            return getattr(importlib.import_module(module), attr)
        raise AttributeError(f"module 'netkit.check' has no attribute {name!r}")

    def __dir__():
        return sorted(set(globals()) | set(__all__))
