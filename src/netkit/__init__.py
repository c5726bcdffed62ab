"""netkit: the system administrator's network toolkit.

The package root stays tiny on purpose: ``netkit check`` is run thousands of times a
minute by monitoring servers, so nothing here imports more than it needs. The public
library API lives in the feature packages (``netkit.check``) and is re-exported lazily.
"""

__version__ = "0.1.0"
__all__ = ["__version__", "check_target", "run_checks"]

TYPE_CHECKING = False
if TYPE_CHECKING:  # what mypy and IDEs see (tests/test_exported_members.py)
    from netkit.check import check_target as check_target
    from netkit.check import run_checks as run_checks
else:

    def __getattr__(name: str) -> object:
        if name in ("check_target", "run_checks"):
            from netkit import check

            return getattr(check, name)
        raise AttributeError(f"module 'netkit' has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(__all__))
