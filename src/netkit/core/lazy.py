"""Lazy public names for a feature package: ``import netkit.mail`` loads nothing until a name
is used (PEP 562's module ``__getattr__``), so ``netkit check`` never pays for the monitor.

In a package's ``__init__``::

    from netkit.core.lazy import lazy_names

    __all__, __getattr__, __dir__ = lazy_names(__name__, {
        "netkit.mail._send": ("Request", "send"),
        "netkit.mail._smtp": ("StageError",),
    })

``__all__`` is sorted (each package's test pins it); a name is imported from its module on
first use and then kept in the package's namespace, so the lookup happens once.
"""

import sys

__all__ = ["lazy_names"]


def lazy_names(package: str, modules: dict):
    """(``__all__``, ``__getattr__``, ``__dir__``) for ``package`` exporting ``modules``'
    names ({module: (name, ...)})."""
    where = {name: module for module, names in modules.items() for name in names}
    public = sorted(where)

    def __getattr__(name):
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(public))

    return public, __getattr__, __dir__
