"""``netkit monitor``: every check on a schedule, with states, alerts and history.

The engine's core is sans-I/O: pure logic that takes the time as an argument and answers
with plain frozen objects, so the asyncio runner, the store and alerting are thin drivers
around it, and every rule is tested on a fake clock.

- :class:`Scheduler` and :class:`Job` (``_schedule``): when each target runs.
- :func:`advance`, :class:`TargetState`, :class:`Result`, :class:`Policy` and the events
  (``_state``): what results mean -- soft and hard states, flapping, acknowledgements.
- :class:`Maintenance`, :class:`OneOff`, :class:`Recurring`, :func:`window_from_table`
  (``_windows``): when alerts are suppressed.
- :func:`load_config` and :class:`Config` (``_config``): a TOML config, validated.
- :class:`Monitor` and :func:`run` (``_runner``): the asyncio driver around all of it --
  ``Monitor(load_config(path)).subscribe(callback)``, then ``await monitor.run()``.
- :func:`open_store` and :class:`Store` (``_store``): results, states, events and the outbox
  in SQLite or PostgreSQL.
- :class:`Channel`, :func:`channel_from_table`, :func:`plan_alerts`, :func:`reminders` and
  :class:`Dispatcher` (``_alerts``): who gets an alert, and its delivery from the outbox.

Imports are lazy: ``import netkit.monitor`` loads nothing until a name is used.
"""

from netkit.core.lazy import lazy_names

_MODULES = {
    "netkit.monitor._schedule": ("Job", "LatenessStats", "Reload", "Run", "Scheduler"),
    "netkit.monitor._state": ("AckCleared", "Acknowledged", "FlappingStarted", "FlappingStopped", "HardChange",
                              "Policy", "Result", "SoftChange", "TargetState", "Transition", "acknowledge",
                              "advance", "percent_state_change", "should_alert", "unacknowledge"),
    "netkit.monitor._windows": ("Maintenance", "OneOff", "Recurring", "window_from_table"),
    "netkit.monitor._config": ("Config", "load_config"),
    "netkit.monitor._runner": ("Monitor", "run"),
    "netkit.monitor._store": ("Store", "open_store"),
    "netkit.monitor._alerts": ("Channel", "Dispatcher", "channel_from_table", "plan_alerts", "reminders"),
}
__all__, __getattr__, __dir__ = lazy_names(__name__, _MODULES)  # tests/unit/test_monitor_api.py pins __all__
