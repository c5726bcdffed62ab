"""Process limits that network work runs into."""

__all__ = ["fit_to_descriptors", "usable_cpus", "FD_RESERVE"]

# Descriptors kept free of sockets: stdio, the event loop's own, pipes to workers, files.
FD_RESERVE = 64


def fit_to_descriptors(concurrency: int) -> int:
    """Raise the soft open-files limit toward the hard one if ``concurrency`` sockets need
    it, and cap ``concurrency`` to what the limit allows: work slows down rather than
    failing with "Too many open files"."""
    try:
        import resource
    except ImportError:  # not on this platform
        return concurrency
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = concurrency + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return concurrency
    return max(1, min(concurrency, soft - FD_RESERVE))


def usable_cpus() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on this platform
        return os.cpu_count() or 1
