"""netkit: the system administrator's network toolkit.

The package root stays tiny on purpose: ``netkit check`` is run thousands of times a
minute by monitoring servers, so nothing here imports more than it needs. The public
library API lives in the feature packages (``netkit.check``) and is re-exported lazily.
"""

__version__ = "0.1.0"
__all__ = ["__version__", "check_target", "run_checks"]


def __getattr__(name: str):
    if name in ("check_target", "run_checks"):
        from netkit import check

        return getattr(check, name)
    raise AttributeError(f"module 'netkit' has no attribute {name!r}")
