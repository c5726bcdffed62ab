"""``netkit monitor``: every check on a schedule, with states, history and alerts.

This package holds the monitor's sans-I/O core so far; names are imported lazily.
"""

__all__ = []
