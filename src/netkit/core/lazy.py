"""Lazy public names for a feature package: ``import netkit.mail`` loads nothing until a name
is used (PEP 562's module ``__getattr__``), so ``netkit check`` never pays for the monitor.

In a package's ``__init__``::

    from netkit.core.lazy import lazy_names

    TYPE_CHECKING = False
    _MODULES = {
        "netkit.mail._send": ("Request", "send"),
        "netkit.mail._smtp": ("StageError",),
    }
    if TYPE_CHECKING:  # what mypy and IDEs see
        from netkit.mail._send import Request as Request, send as send
        from netkit.mail._smtp import StageError as StageError
    else:
        __all__, __getattr__, __dir__ = lazy_names(__name__, _MODULES)

``__all__`` is sorted (tests/test_exported_members.py pins every package's, and checks that
the ``TYPE_CHECKING`` imports name the same modules); a name is imported from its module on
first use and then kept in the package's namespace, so the lookup happens once. Names the
package defines itself (an ``async`` wrapper, say) are listed in ``own``. ``TYPE_CHECKING``
is a plain ``False`` rather than ``typing.TYPE_CHECKING``: importing ``typing`` costs ~10 ms
of start-up, and type checkers treat the name alike (core/ and proto/ quote the annotations
that need it instead of ``from __future__ import annotations``, one more import at start-up).
"""

import sys

__all__ = ["lazy_names"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping


def lazy_names(
    package: str, modules: "Mapping[str, Iterable[str]]", own: "Iterable[str]" = ()
) -> "tuple[list[str], Callable[[str], object], Callable[[], list[str]]]":
    """(``__all__``, ``__getattr__``, ``__dir__``) for ``package`` exporting ``modules``'
    names ({module: (name, ...)}) and the names in ``own`` it defines itself."""
    where = {name: module for module, names in modules.items() for name in names}
    public = sorted({*where, *own})

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(public))

    return public, __getattr__, __dir__
