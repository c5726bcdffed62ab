"""netkit: the system administrator's network toolkit.

The package root stays tiny on purpose: ``netkit check`` is run thousands of times a
minute by monitoring servers, so nothing here imports more than it needs. The public
library API lives in the feature packages (``netkit.check``) and is re-exported lazily;
the root also re-exports what every feature shares: the :class:`Timeout` value and the one
exception tree (:mod:`netkit.core.errors`, drawn in its docstring), so that
``except netkit.NetError`` and ``timeout=netkit.Timeout(30, connect=3)`` work everywhere.
"""

__version__ = "0.1.0"
__all__ = [
    "AuthError", "Cancelled", "CertificateError", "ChangedHostKey", "CommandError",
    "CommandTimeout", "ConnectError", "CutError", "DeadlineError", "HTTPStatusError",
    "HostKeyError", "IntegrityError", "LocalError", "NeedsPrivilege", "NetError", "NetkitError",
    "ProtocolError", "RefusedError", "RemoteError", "ResolveError", "SSHError", "SpeedError",
    "TLSError", "TimedOut", "Timeout", "TooLargeError", "UnknownHostKey", "UnsafeName",
    "UsageError", "__version__", "check_target", "run_checks",
]

TYPE_CHECKING = False
if TYPE_CHECKING:  # what mypy and IDEs see (tests/test_exported_members.py)
    from netkit.check import check_target as check_target
    from netkit.check import run_checks as run_checks
    from netkit.core.errors import AuthError as AuthError
    from netkit.core.errors import Cancelled as Cancelled
    from netkit.core.errors import CertificateError as CertificateError
    from netkit.core.errors import ChangedHostKey as ChangedHostKey
    from netkit.core.errors import CommandError as CommandError
    from netkit.core.errors import CommandTimeout as CommandTimeout
    from netkit.core.errors import ConnectError as ConnectError
    from netkit.core.errors import CutError as CutError
    from netkit.core.errors import DeadlineError as DeadlineError
    from netkit.core.errors import HTTPStatusError as HTTPStatusError
    from netkit.core.errors import HostKeyError as HostKeyError
    from netkit.core.errors import IntegrityError as IntegrityError
    from netkit.core.errors import LocalError as LocalError
    from netkit.core.errors import NeedsPrivilege as NeedsPrivilege
    from netkit.core.errors import NetError as NetError
    from netkit.core.errors import NetkitError as NetkitError
    from netkit.core.errors import ProtocolError as ProtocolError
    from netkit.core.errors import RefusedError as RefusedError
    from netkit.core.errors import RemoteError as RemoteError
    from netkit.core.errors import ResolveError as ResolveError
    from netkit.core.errors import SSHError as SSHError
    from netkit.core.errors import SpeedError as SpeedError
    from netkit.core.errors import TLSError as TLSError
    from netkit.core.errors import TimedOut as TimedOut
    from netkit.core.errors import TooLargeError as TooLargeError
    from netkit.core.errors import UnknownHostKey as UnknownHostKey
    from netkit.core.errors import UnsafeName as UnsafeName
    from netkit.core.errors import UsageError as UsageError
    from netkit.core.timeout import Timeout as Timeout
else:

    def __getattr__(name: str) -> object:
        if name in ("check_target", "run_checks"):
            from netkit import check

            return getattr(check, name)
        if name == "Timeout":
            from netkit.core.timeout import Timeout

            return Timeout
        from netkit.core import errors

        if name in errors.__all__:
            return getattr(errors, name)
        raise AttributeError(f"module 'netkit' has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(__all__))
