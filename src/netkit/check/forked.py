"""Sweeps across processes: one event loop per core, results back through pipes.

A single Python process runs one core flat out at a couple of thousand HTTP checks a
second; a sweep of hundreds of checks splits them round-robin over forked workers (each
with its own uvloop and ``concurrency / workers`` checks in flight), which render their
results and send them back; the parent yields them as they come. Specs are parsed (and
passwords asked for) before the fork, so workers share nothing and need no pickling.
"""

import os

from netkit.core.status import UNKNOWN

__all__ = ["worker_count", "run_forked", "MIN_CHECKS_PER_WORKER"]

# A worker costs a fork and an event loop (~50 ms); below this many checks each, one
# process is as fast.
MIN_CHECKS_PER_WORKER = 150


def worker_count(n_checks: int) -> int:
    from netkit.core.limits import usable_cpus

    if not hasattr(os, "fork"):
        return 1
    return max(1, min(usable_cpus(), n_checks // MIN_CHECKS_PER_WORKER))


def run_forked(specs, *, workers: int, concurrency: int, verbose: bool, render, lost, interrupted: list):
    """Yield (index, status, text) as checks finish, in any order.

    ``render(result) -> str`` runs in the workers; ``lost(message) -> str`` renders a
    check whose worker died before finishing it. On Ctrl-C the parent drains what the
    workers already sent and appends True to ``interrupted``.
    """
    from netkit.core.workers import fork_workers

    shares = [[(i, s) for i, s in enumerate(specs) if i % workers == w] for w in range(workers)]

    def work(w, emit):
        from netkit.check.run import run_many

        share = shares[w]

        def on_result(k, result):
            emit(b"%d %d\n" % (share[k][0], int(result.status)) + render(result).encode("utf-8"))

        run_many([spec for _, spec in share], concurrency=max(1, concurrency // workers), verbose=verbose,
                 on_result=on_result)

    pool = fork_workers(workers, work)
    missing = {i for i in range(len(specs))}
    finished = False
    try:
        for _worker, record in pool.records(interrupted):
            head, _, text = record.partition(b"\n")
            index, status = (int(x) for x in head.split())
            missing.discard(index)
            yield index, status, text.decode("utf-8")
        finished = not interrupted
    finally:
        codes = pool.close(kill=not finished)
    if finished:
        for index in sorted(missing):
            code = codes[index % workers]
            yield index, int(UNKNOWN), lost(f"internal error: a worker exited with status {code} "
                                            f"before this check finished")
