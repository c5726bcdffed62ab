"""Running checks: one on blocking sockets, many at once on asyncio.

Each scheme's module gives ``plan(spec)`` (the dialogue) and ``judge(spec, exchange,
now)`` (the verdict); both drivers run the same plan.
"""

import time

from netkit.core.limits import FD_RESERVE, fit_to_descriptors
from netkit.core.status import CRITICAL, UNKNOWN

__all__ = ["run_one", "run_one_async", "run_many", "DEFAULT_CONCURRENCY", "FD_RESERVE", "fit_to_descriptors"]

# Checks in flight at once in a sweep: enough to hide network latency, few enough that
# one machine's descriptors and the peers' accept queues are not swamped.
DEFAULT_CONCURRENCY = 100

# The module that plans and judges each scheme's checks.
_MODULES = {"tcp": "line", "udp": "line", "tls": "tls", "http": "http", "https": "http", "ftp": "ftp",
            "smtp": "mail", "smtps": "mail", "pop3": "mail", "pop3s": "mail", "imap": "mail", "imaps": "mail",
            "ssh": "ssh", "dns": "dns"}


def _module(scheme):
    import importlib

    return importlib.import_module(f"netkit.check.{_MODULES[scheme]}")


def _finish(spec, module, exchange, verbose):
    from netkit.core.errors import NetError, ProtocolError, UsageError

    if isinstance(exchange.error, UsageError):  # the dialogue refused an argument: not the peer
        return failed(spec, UNKNOWN, exchange.error)
    try:
        result = module.judge(spec, exchange, time.time())
    except UsageError as exc:
        return failed(spec, UNKNOWN, exc)
    except NetError as exc:
        return failed(spec, CRITICAL, exc)
    except Exception as exc:  # noqa: BLE001 -- judging reads the peer's answer: its fault
        from netkit.drivers._common import peer_fault

        return failed(spec, CRITICAL, ProtocolError(peer_fault(exc, exchange.peer)))  # as the drivers raise it
    if verbose and exchange.transcript is not None:
        # The caller's own headers that may be credentials (http's -H): masked too.
        secrets = getattr(module, "secret_names", None)
        result.dialogue = list(exchange.transcript.lines(secrets(spec) if secrets is not None else frozenset()))
    return result


def failed(spec, status, error):
    """The result of a check that ended before (or instead of) its judge: ``error`` the
    exception (or the words) that ended it."""
    from netkit.check.result import CheckResult

    return CheckResult(name=spec.name, label=spec.label, target=spec.target.text, status=status,
                       summary=str(error), error=error)


def _planned(spec, module):
    """(dialogue, None), or (None, the result of a check that cannot start)."""
    from netkit.core.errors import NetError, UsageError

    try:
        return module.plan(spec), None
    except UsageError as exc:
        return None, failed(spec, UNKNOWN, exc)
    except NetError as exc:
        return None, failed(spec, CRITICAL, exc)


def _internal(spec, exc):
    """A bug met by one check: that check is UNKNOWN, the others run on."""
    return failed(spec, UNKNOWN, f"internal error: {type(exc).__name__}: {exc}")


def run_one(spec, verbose: bool = False):
    """Run one check on blocking sockets (no event loop): the fast path of the CLI."""
    from netkit.drivers.blocking import run

    module = _module(spec.target.scheme)
    dialogue, result = _planned(spec, module)
    if result is not None:
        return result
    exchange = run(dialogue, spec.timeout, verbose)
    return _finish(spec, module, exchange, verbose)


async def run_one_async(spec, verbose: bool = False, resolver=None):
    from netkit.drivers.aio import run

    module = _module(spec.target.scheme)
    dialogue, result = _planned(spec, module)
    if result is not None:
        return result
    exchange = await run(dialogue, spec.timeout, verbose, resolver)
    return _finish(spec, module, exchange, verbose)


def run_many(specs, *, concurrency: int = DEFAULT_CONCURRENCY, verbose: bool = False, on_result=None):
    """Run ``specs`` concurrently; results come back in the order of ``specs``.

    ``on_result(index, result)`` is called as each check finishes (in any order).
    """
    import asyncio

    from netkit.drivers.aio import Resolver, loop_factory

    specs = list(specs)
    concurrency = fit_to_descriptors(concurrency)
    results = [None] * len(specs)
    resolver = Resolver()

    async def main():
        queue = iter(enumerate(specs))

        async def worker():
            for index, spec in queue:
                try:
                    result = await run_one_async(spec, verbose, resolver)
                except Exception as exc:  # noqa: BLE001 -- one check's bug never cancels its siblings
                    result = _internal(spec, exc)
                results[index] = result
                if on_result is not None:
                    on_result(index, result)

        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(concurrency, len(specs)))):
                group.create_task(worker())

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        try:
            runner.run(main())
        except BaseExceptionGroup as group:
            # A failure in on_result (say, a closed stdout) stops the sweep; the caller
            # sees that exception itself, not the TaskGroup's wrapping of it.
            raise group.exceptions[0] from None
    return results
