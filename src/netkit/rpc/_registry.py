"""What a server exposes, and how one call reaches it: the one set every protocol serves.

* :func:`expose` marks a function of the user's module (``--module file.py``); nothing
  unmarked is reachable, and names are looked up whole in a dict: no dotted names, no
  attribute walks (SimpleXMLRPCServer's ``allow_dotted_names`` hole cannot exist here).
* :func:`value_class` marks a class whose objects a Pyro or PB client may send: the
  serializer rebuilds exactly those (serpent's dict_to_class, jelly's allowlist).
* :class:`Dispatcher` runs a call: checks the name and the arguments' nesting, runs the
  function in a bounded pool under a deadline, and turns every failure into a typed
  :class:`~netkit.rpc._faults.RpcFault`. It also answers the ``system.*`` introspection
  (listMethods, methodHelp, methodSignature, multicall).
"""

from __future__ import annotations

import inspect
import re

from netkit.rpc._faults import (
    Busy,
    CallTimeout,
    InternalFault,
    InvalidParams,
    InvalidRequest,
    MethodNotFound,
    RpcFault,
    TooBig,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, TypeVar

    _F = TypeVar("_F", bound=Callable[..., Any])
    _C = TypeVar("_C", bound=type)

__all__ = ["Dispatcher", "Limits", "Method", "Registry", "expose", "load_module", "value_class"]

# A method name: one identifier. Dots, spaces and dunders are refused before any lookup.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\Z")
SYSTEM = ("system.listMethods", "system.methodHelp", "system.methodSignature", "system.multicall")
# Calls in one system.multicall: a batch is for a handful of calls; more is a flood.
MAX_MULTICALL = 100
# The answers of one multicall past this size: the rest of its calls are not run (100 ls of
# 10,000 long names are 250 MB, more as XML, for a request of a few KB).
MAX_MULTICALL_REPLY = 16 << 20


class Limits:
    """The bounds of a server, each with its reason."""

    __slots__ = ("call_seconds", "max_connections", "max_depth", "max_pending", "max_request", "threads")

    def __init__(self, *, call_seconds: float = 10.0, max_request: int = 1 << 20, max_depth: int = 32,
                 threads: int = 16, max_pending: int = 256, max_connections: int = 1024) -> None:
        # A call of the admin set takes milliseconds; 10 s is a stuck disk or a slow
        # check, and the client is told so instead of waiting forever.
        self.call_seconds = call_seconds
        # A request of 1 MiB holds thousands of arguments; more is a flood (the XML after
        # gzip is bounded by the same number).
        self.max_request = max_request
        # Nesting of arrays/structs in the arguments: real calls nest a few levels; deep
        # nesting is a recursion bomb aimed at the parser or the function.
        self.max_depth = max_depth
        # Threads that run blocking functions: the pool is bounded, the connections are not
        # threads (asyncio, twisted) -- 16 keeps a stuck disk from taking the machine.
        self.threads = threads
        # Calls queued for the pool at once; past it a caller gets Busy at once rather
        # than waiting behind a flood.
        self.max_pending = max_pending
        # Open connections at once: each is a descriptor and a few KiB of buffers.
        self.max_connections = max_connections


def expose(fn: _F | None = None, *, name: str | None = None, inline: bool = False) -> Any:
    """Mark ``fn`` as callable remotely (as ``name``, default its own).

    A plain function runs in the server's bounded pool under the call deadline; a
    coroutine function runs on the event loop under it. ``inline=True`` runs a plain
    function on the event loop itself: no thread hand-off (about twice the calls per
    second of a trivial function), but no deadline can stop it and every other client
    waits while it runs -- only for pure computation that finishes in microseconds."""
    def mark(f: _F) -> _F:
        exposed = name or f.__name__
        if not NAME.match(exposed):
            raise ValueError(f"cannot expose {exposed!r}: a method name is one identifier (letters, digits, _)")
        f.__netkit_rpc__ = exposed  # type: ignore[attr-defined]  # the mark the registry looks for
        f.__netkit_rpc_inline__ = bool(inline)  # type: ignore[attr-defined]
        return f

    return mark(fn) if fn is not None else mark


def value_class(*wire_names: str) -> Callable[[_C], _C]:
    """Mark a class whose objects Pyro and PB clients may send: ``wire_names`` are the
    clients' ``module.Class``; the server rebuilds an object of the marked class from them
    (and nothing else: every other class stays a dict or is refused)."""
    def mark(cls: _C) -> _C:
        cls.__netkit_rpc_value__ = wire_names  # type: ignore[attr-defined]  # the mark the registry looks for
        return cls

    return mark


class Method:
    __slots__ = ("fn", "help", "inline", "is_async", "name", "signature")

    def __init__(self, name, fn):
        self.name = name
        self.fn = fn
        self.inline = getattr(fn, "__netkit_rpc_inline__", False) is True
        self.help = inspect.cleandoc(fn.__doc__ or "")
        self.is_async = inspect.iscoroutinefunction(fn)
        try:
            params = inspect.signature(fn).parameters.values()
            self.signature = "(" + ", ".join(str(p).split(":")[0] if "=" not in str(p) else str(p) for p in params) + ")"
        except (TypeError, ValueError):
            self.signature = "(...)"


class Registry:
    """Exposed methods by name, and the value classes clients may send."""

    def __init__(self):
        self.methods = {}
        self.value_classes = {}

    def add(self, fn, name=None):
        name = name or getattr(fn, "__netkit_rpc__", None) or fn.__name__
        if not NAME.match(name):
            raise ValueError(f"cannot expose {name!r}: a method name is one identifier")
        self.methods[name] = Method(name, fn)

    def add_module(self, module):
        for value in vars(module).values():
            if callable(value) and isinstance(getattr(value, "__netkit_rpc__", None), str):
                self.add(value, value.__netkit_rpc__)
            wires = getattr(value, "__netkit_rpc_value__", ()) if isinstance(value, type) else ()
            for wire in wires if isinstance(wires, tuple) else ():
                if isinstance(wire, str):
                    self.value_classes[wire] = value

    def resolve(self, name) -> Method:
        if not isinstance(name, str) or not NAME.match(name) or name not in self.methods:
            shown = name[:80] if isinstance(name, str) else type(name).__name__
            raise MethodNotFound(f"no method {shown!r}; system.listMethods lists them")
        return self.methods[name]


def load_module(path: str):
    """Import the user's ``--module file.py`` by path; ValueError in one line."""
    import importlib.util
    import os

    if not os.path.isfile(path):
        raise ValueError(f"--module {path}: no such file; give a Python file with @netkit.rpc.expose functions")
    name = "netkit_rpc_user_" + re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # not a .py name importlib knows how to load
        raise ValueError(f"--module {path}: not a Python source file; give a .py file")
    module = importlib.util.module_from_spec(spec)
    import sys

    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ValueError(f"--module {path}: importing it failed: {type(exc).__name__}: {exc}") from None
    return module


def depth_over(value, limit: int) -> bool:
    """True when ``value`` nests lists/tuples/dicts deeper than ``limit`` (iterative: a
    deep value cannot blow the stack here)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children: Iterable[object]
        if isinstance(item, (list, tuple)):
            children = item
        elif isinstance(item, dict):
            children = item.values()
        else:
            continue
        if level > limit:
            return True
        stack.extend((child, level + 1) for child in children)
    return False


class Dispatcher:
    """Runs calls on a :class:`Registry` under :class:`Limits`; every failure is an
    :class:`RpcFault` (``debug``: an unexpected exception's type and message show, and the
    server logs its traceback)."""

    def __init__(self, registry: Registry, limits: Limits | None = None, debug: bool = False,
                 log: Callable[[str], object] | None = None) -> None:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        self.registry = registry
        self.limits = limits or Limits()
        self.debug = debug
        self.log = log
        self.pool = ThreadPoolExecutor(self.limits.threads, thread_name_prefix="netkit-rpc")
        self._pending = threading.BoundedSemaphore(self.limits.max_pending)

    # -- introspection ------------------------------------------------------------------

    def list_methods(self):
        return sorted(self.registry.methods) + list(SYSTEM)

    def method_help(self, name):
        if name in SYSTEM:
            return _SYSTEM_HELP[name]
        return self.registry.resolve(name).help

    def method_signature(self, name):
        if name in SYSTEM:
            return "signatures not supplied"
        return self.registry.resolve(name).signature

    # -- calls ----------------------------------------------------------------------------

    def _check(self, name, params):
        if not isinstance(params, (list, tuple)):
            raise InvalidRequest("params must be an array of arguments")
        if depth_over(params, self.limits.max_depth):
            raise TooBig(f"arguments nested deeper than {self.limits.max_depth} levels")

    def _system(self, name, params):
        """The answer of a ``system.*`` call other than multicall, or None."""
        if name == "system.listMethods":
            return self.list_methods()
        if len(params) != 1 or not isinstance(params[0], str):
            raise InvalidParams(f"{name} takes one method name")
        return self.method_help(params[0]) if name == "system.methodHelp" else self.method_signature(params[0])

    def _run(self, method, params):
        """The function's result, its own exceptions turned into faults."""
        try:
            return method.fn(*params)
        except RpcFault:
            raise
        except TypeError as exc:
            if _bad_arguments(method.fn, params):
                raise InvalidParams(f"{method.name}{method.signature}: {exc}") from None
            raise self._internal(method.name, exc) from None
        except OSError as exc:
            from netkit.rpc._faults import from_os_error

            raise from_os_error(exc, method.name) from None
        except Exception as exc:
            raise self._internal(method.name, exc) from None

    def _internal(self, name, exc):
        if self.log:
            import traceback

            self.log(f"{name}: {type(exc).__name__}: {exc}\n" + ("".join(traceback.format_exc()) if self.debug else ""))
        if self.debug:
            return InternalFault(f"{name}: {type(exc).__name__}: {exc}")
        return InternalFault(f"{name} failed on the server (its log says why)")

    async def call(self, name, params):
        """The result of ``name(*params)`` (asyncio servers); RpcFault otherwise."""
        import asyncio

        self._check(name, params)
        if name == "system.multicall":
            out, budget = [], _Budget()
            for item in _calls(params):
                out.append(budget.over() or await self._one_of_many(item))
                budget.add(out[-1])
            return out
        if name in SYSTEM:
            return self._system(name, params)
        method = self.registry.resolve(name)
        if method.inline:
            return self._run(method, params)
        try:
            async with asyncio.timeout(self.limits.call_seconds):
                if method.is_async:
                    return await self._run_async(method, params)
                if not self._pending.acquire(blocking=False):
                    raise Busy(f"more than {self.limits.max_pending} calls waiting; try again")
                try:
                    return await asyncio.get_running_loop().run_in_executor(self.pool, self._run, method, params)
                finally:
                    self._pending.release()
        except TimeoutError:
            raise CallTimeout(f"{name} took more than {self.limits.call_seconds:g} s") from None

    async def _run_async(self, method, params):
        try:
            return await self._run(method, params)
        except RpcFault:
            raise
        except TimeoutError:
            raise
        except OSError as exc:
            from netkit.rpc._faults import from_os_error

            raise from_os_error(exc, method.name) from None
        except Exception as exc:
            raise self._internal(method.name, exc) from None

    async def _one_of_many(self, item):
        name, params = item
        try:
            if name == "system.multicall":
                raise InvalidRequest("system.multicall cannot be nested")
            return [await self.call(name, params)]
        except RpcFault as fault:
            return {"faultCode": fault.code, "faultString": fault.message}

    def call_blocking(self, name, params):
        """The result of ``name(*params)`` from a server's own thread (Pyro): run in the
        pool under the deadline. RpcFault otherwise."""
        from concurrent.futures import TimeoutError as FutureTimeout

        self._check(name, params)
        if name == "system.multicall":
            out, budget = [], _Budget()
            for item in _calls(params):
                out.append(budget.over() or self._one_blocking(item))
                budget.add(out[-1])
            return out
        if name in SYSTEM:
            return self._system(name, params)
        method = self.registry.resolve(name)
        if method.is_async:
            raise InvalidRequest(f"{name} is a coroutine; serve it over xmlrpc, jsonrpc or pyro")
        if method.inline:
            return self._run(method, params)
        if not self._pending.acquire(blocking=False):
            raise Busy(f"more than {self.limits.max_pending} calls waiting; try again")
        try:
            future = self.pool.submit(self._run, method, params)
            try:
                return future.result(self.limits.call_seconds)
            except FutureTimeout:
                future.cancel()
                raise CallTimeout(f"{name} took more than {self.limits.call_seconds:g} s") from None
        finally:
            self._pending.release()

    def _one_blocking(self, item):
        name, params = item
        try:
            if name == "system.multicall":
                raise InvalidRequest("system.multicall cannot be nested")
            return [self.call_blocking(name, params)]
        except RpcFault as fault:
            return {"faultCode": fault.code, "faultString": fault.message}

    def close(self):
        self.pool.shutdown(wait=False, cancel_futures=True)


class _Budget:
    """The answers of one system.multicall, sized as they come (strings and bytes by
    their length, anything else a few bytes): past MAX_MULTICALL_REPLY the rest of the
    calls are not run and answer a fault."""

    def __init__(self):
        self.size = 0

    def add(self, value):
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, (str, bytes, bytearray)):
                self.size += len(item) + 16
            elif isinstance(item, (list, tuple)):
                stack.extend(item)
            elif isinstance(item, dict):
                stack.extend(item.keys())
                stack.extend(item.values())
            else:
                self.size += 16

    def over(self):
        if self.size <= MAX_MULTICALL_REPLY:
            return None
        return {"faultCode": TooBig.code, "faultString": f"the multicall's answers passed "
                                                          f"{MAX_MULTICALL_REPLY >> 20} MiB; send this call again"}


def _calls(params):
    """[(name, params)] of system.multicall's one argument: [{methodName, params}, ...]."""
    if len(params) != 1 or not isinstance(params[0], (list, tuple)):
        raise InvalidParams("system.multicall takes one array of {methodName, params} structs")
    calls = params[0]
    if len(calls) > MAX_MULTICALL:
        raise TooBig(f"more than {MAX_MULTICALL} calls in one system.multicall")
    out = []
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("methodName"), str):
            raise InvalidParams("each call of system.multicall is a {methodName, params} struct")
        out.append((call["methodName"], call.get("params", [])))
    return out


def _bad_arguments(fn, params) -> bool:
    """True when ``params`` do not fit ``fn``'s signature (the TypeError was the caller's)."""
    try:
        inspect.signature(fn).bind(*params)
    except TypeError:
        return True
    except ValueError:
        return False
    return False


_SYSTEM_HELP = {
    "system.listMethods": "The names of the methods this server exposes.",
    "system.methodHelp": "methodHelp(name): the documentation of one method.",
    "system.methodSignature": "methodSignature(name): the parameters of one method.",
    "system.multicall": "multicall([{methodName, params}, ...]): several calls in one request; each result is "
                        "[value] or a {faultCode, faultString} struct.",
}
