"""The monitor core's public surface is pinned, lazy, and holds together on a fake clock:
the scheduler starts runs, results become states, windows suppress alerts."""

import subprocess
import sys

import netkit.monitor as monitor
from netkit.core.status import CRITICAL, OK


def test_import_is_lazy_and_has_no_io_modules():
    code = (
        "import sys, netkit.monitor as m; before = set(sys.modules); "
        "m.Scheduler; m.advance; m.Maintenance; "
        "print([x for x in before if x.startswith('netkit.monitor.')]); "
        "print([x for x in ('asyncio', 'socket', 'sqlite3', 'ssl', 'selectors') if x in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["[]", "[]"]


def test_a_day_of_one_target_on_a_fake_clock():
    """What the runner will do, in miniature: due -> check -> finish -> advance, alerting
    on what should_alert says, with a nightly maintenance window."""
    t0 = 1_800_000_000.0
    sched = monitor.Scheduler(max_in_flight=10)
    sched.update([monitor.Job("web", interval=60, timeout=10)], t0)
    window = monitor.Maintenance([monitor.Recurring.cron("0 3 * * *", 3600, "UTC")])
    state = monitor.TargetState("web")
    policy = monitor.Policy(failure_threshold=3, success_threshold=2)
    down = [(t0 + 7200, t0 + 7800)]                         # broken for ten minutes
    down += [(w, w + 900) for w, _ in window.windows[0].intervals(t0, t0 + 86400)]  # broken during maintenance
    alerts, suppressed, now = [], [], t0
    while (now := sched.next_wakeup(now)) < t0 + 86400:
        for run in sched.due(now):
            status = CRITICAL if any(a <= now < b for a, b in down) else OK
            sched.finish(run, now + 0.2)
            t = monitor.advance(state, monitor.Result("web", status, now), policy,
                                maintenance=window.active(now))
            state = t.state
            alerts += [e for e in t.events if monitor.should_alert(e)]
            suppressed += [e for e in t.events if isinstance(e, monitor.HardChange) and e.suppressed]
    assert [(a.old.label, a.new.label) for a in alerts] == [("OK", "CRITICAL"), ("CRITICAL", "OK")]
    assert alerts[0].at - down[0][0] < 3 * 60 and alerts[1].at - down[0][1] < 2 * 60
    assert [(e.new.label, e.suppressed) for e in suppressed] == [("CRITICAL", ("maintenance",)),
                                                                ("OK", ("maintenance",))]
    stats = sched.lateness(now)
    assert stats.count == 1440 and stats.missed == 0 and stats.window_max < 1e-6
