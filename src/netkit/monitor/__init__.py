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

TYPE_CHECKING = False

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
if TYPE_CHECKING:  # what mypy and IDEs see: _MODULES' names (tests/test_exported_members.py)
    from netkit.monitor._alerts import Channel as Channel
    from netkit.monitor._alerts import Dispatcher as Dispatcher
    from netkit.monitor._alerts import channel_from_table as channel_from_table
    from netkit.monitor._alerts import plan_alerts as plan_alerts
    from netkit.monitor._alerts import reminders as reminders
    from netkit.monitor._config import Config as Config
    from netkit.monitor._config import load_config as load_config
    from netkit.monitor._runner import Monitor as Monitor
    from netkit.monitor._runner import run as run
    from netkit.monitor._schedule import Job as Job
    from netkit.monitor._schedule import LatenessStats as LatenessStats
    from netkit.monitor._schedule import Reload as Reload
    from netkit.monitor._schedule import Run as Run
    from netkit.monitor._schedule import Scheduler as Scheduler
    from netkit.monitor._state import AckCleared as AckCleared
    from netkit.monitor._state import Acknowledged as Acknowledged
    from netkit.monitor._state import FlappingStarted as FlappingStarted
    from netkit.monitor._state import FlappingStopped as FlappingStopped
    from netkit.monitor._state import HardChange as HardChange
    from netkit.monitor._state import Policy as Policy
    from netkit.monitor._state import Result as Result
    from netkit.monitor._state import SoftChange as SoftChange
    from netkit.monitor._state import TargetState as TargetState
    from netkit.monitor._state import Transition as Transition
    from netkit.monitor._state import acknowledge as acknowledge
    from netkit.monitor._state import advance as advance
    from netkit.monitor._state import percent_state_change as percent_state_change
    from netkit.monitor._state import should_alert as should_alert
    from netkit.monitor._state import unacknowledge as unacknowledge
    from netkit.monitor._store import Store as Store
    from netkit.monitor._store import open_store as open_store
    from netkit.monitor._windows import Maintenance as Maintenance
    from netkit.monitor._windows import OneOff as OneOff
    from netkit.monitor._windows import Recurring as Recurring
    from netkit.monitor._windows import window_from_table as window_from_table
else:
    __all__, __getattr__, __dir__ = lazy_names(__name__, _MODULES)
