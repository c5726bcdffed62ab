"""Alerts: which channels a verdict change goes to (pure), and the dispatcher that delivers the
persistent outbox.

- :func:`plan_alerts` -- a :class:`VerdictChange` -> one :class:`Alert` per channel that gets
  it; :func:`reminders` -- open problems past a channel's ``resend`` -> reminder Alerts. Both
  pure: the decider writes their Alerts with the verdicts in one store transaction.
- :class:`Dispatcher` -- an asyncio task that sends the store's due alerts through their
  channels (``_senders``), marks them delivered, or retries them with back-off.

Delivery is at least once: an alert is marked delivered after its receiver accepted it, so a
monitor killed between the two sends it again after restart. Exactly once per transition is
approached from both ends:

- enqueueing is idempotent: an Alert's ``key`` is ``target|change time|channel|kind``, the
  same on every run of the decider, and the store skips a key it already holds, so one
  transition is one outbox row per channel whatever crashes;
- the dispatcher marks a row delivered in the same breath as the receiver's "accepted", so the
  only duplicate left is a crash in that gap; every message carries a stable id derived from
  the key (the webhook payload's ``id`` and ``Idempotency-Key`` header, the email's
  ``Message-ID``, ``NETKIT_ALERT_ID`` for a command) for a receiver to drop a repeat, and
  Alertmanager needs none: it merges alerts with the same labels into one.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import Counter

from netkit.core.status import OK, Status
from netkit.monitor._channels import Channel, channel_from_table
from netkit.monitor._records import Alert, TargetInfo, Verdict, VerdictChange

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Set
    from concurrent.futures import Executor

    from netkit.monitor._channels import Channel
    from netkit.monitor._store import Store

__all__ = ["Channel", "Dispatcher", "alert_id", "backoff", "channel_from_table", "plan_alerts", "reminders",
           "FIRST_RETRY", "MAX_RETRY", "GIVE_UP_AFTER"]

# Retries: the first after FIRST_RETRY seconds, doubling to MAX_RETRY; an alert still not
# delivered GIVE_UP_AFTER seconds after it was created is dropped (its news is a day old, and
# the channel's error stays in the outbox for the operator to read).
FIRST_RETRY = 10.0
MAX_RETRY = 3600.0
GIVE_UP_AFTER = 86400.0
# How often the dispatcher looks at the outbox when nothing woke it: alerts written by the
# decider are picked up within this, retries fall due on their own.
POLL_SECONDS = 1.0
# Due alerts read per look: a mass outage's worth; the rest waits for the next look.
DUE_BATCH = 200
# Deliveries in flight at once, and per channel: one slow or hung channel holds at most
# PER_CHANNEL of the MAX_IN_FLIGHT slots, and never a slot another channel needs.
MAX_IN_FLIGHT = 32
PER_CHANNEL = 4


def alert_id(key: str) -> str:
    """A stable id for an outbox key, safe in any header or file name (the key holds the
    target's name, which may hold anything)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _status_name(value) -> str:
    return Status(value).label if value in (0, 1, 2, 3) else "UNKNOWN"


def _payload(kind: str, key: str, channel: Channel, target: TargetInfo, old: int, new: int, summary: str,
             at: float, since: float, locations) -> dict:
    from netkit.core.secrets import mask_url

    return {
        "id": alert_id(key), "kind": kind, "channel": channel.name,
        "target": target.id, "url": mask_url(target.url), "group": target.group, "labels": dict(target.labels),
        "status": _status_name(new), "old_status": _status_name(old), "summary": summary,
        "at": at, "since": since,
        "locations": {str(loc): _status_name(status) for loc, status in locations},
    }


def _iso(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def plan_alerts(change: VerdictChange, target: TargetInfo, channels: Iterable[Channel], now: float) -> list[Alert]:
    """The alerts ``change`` makes, one per channel that gets it: none when the change is
    suppressed; a change to OK is a "recovery" and goes only to ``send-on-resolved``
    channels; any other change is a "problem". Channels whose groups/targets do not cover
    the target are left out."""
    if change.suppressed or change.old == change.new:
        return []
    kind = "recovery" if change.new == OK else "problem"
    alerts = []
    for channel in channels:
        if not channel.covers(target.id, target.group):
            continue
        if kind == "recovery" and not channel.send_on_resolved:
            continue
        key = f"{target.id}|{change.at!r}|{channel.name}|{kind}"
        payload = _payload(kind, key, channel, target, change.old, change.new, change.summary, change.at,
                           change.at, change.locations)
        alerts.append(Alert(key, channel.name, target.id, kind, payload, created=now, next_at=now))
    return alerts


def reminders(verdicts: dict[str, Verdict], targets: dict[str, TargetInfo], channels: Iterable[Channel],
              last_alerts: dict[tuple[str, str], float], now: float,
              quiet: Set[str] = frozenset()) -> list[Alert]:
    """Reminder alerts for problems still open: per channel with a ``resend`` interval that
    covers the target, when ``resend`` has passed since the channel's last alert about it (or
    since the problem began). Acknowledged and flapping targets get none, nor those in
    ``quiet`` (the caller's: targets in a maintenance window now)."""
    alerts = []
    for target_id, verdict in verdicts.items():
        target = targets.get(target_id)
        if target is None or verdict.status == OK or verdict.acked or verdict.flapping or verdict.since is None \
                or target_id in quiet:
            continue
        for channel in channels:
            if not channel.resend or not channel.covers(target_id, target.group):
                continue
            base = max(last_alerts.get((target_id, channel.name), 0.0), verdict.since)
            if now - base < channel.resend:
                continue
            # The reminder's number since the problem began: two reminders are at least
            # ``resend`` apart, so their numbers differ and so do their keys.
            n = int((now - verdict.since) // channel.resend)
            key = f"{target_id}|{verdict.since!r}|{channel.name}|reminder-{n}"
            payload = _payload("reminder", key, channel, target, verdict.status, verdict.status,
                               f"since {_iso(verdict.since)}", now, verdict.since, verdict.locations)
            alerts.append(Alert(key, channel.name, target_id, "reminder", payload, created=now, next_at=now))
    return alerts


def backoff(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones (1 -> FIRST_RETRY)."""
    return min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 32), MAX_RETRY)


class Dispatcher:
    """Delivers the outbox: ``await start()`` ... ``await stop()`` (or ``await run()``).

    Every ``POLL_SECONDS`` (or at once after :meth:`wake`) it reads ``store.due_alerts`` in a
    thread (``executor``, or asyncio's default), and sends each through its channel under the
    channel's timeout: ``alert_delivered``, or ``alert_failed`` with the next try at
    :func:`backoff` (``inf`` after GIVE_UP_AFTER, or at once for a permanent refusal such as a
    4xx or a redirect). Deliveries run concurrently, at most PER_CHANNEL per channel and
    MAX_IN_FLIGHT in all; after a channel fails, its other due alerts are put off to the
    same time rather than tried one by one against a receiver known to be down, so they
    never crowd the due list of channels that work.
    """

    def __init__(self, store: Store, channels: Iterable[Channel], *, executor: Executor | None = None,
                 clock: Callable[[], float] = time.time, log: Callable[[str], object] | None = None) -> None:
        self._store = store
        self._channels = {c.name: c for c in channels}
        self._executor = executor
        self._clock = clock
        self._log = log or _log
        self._wake = asyncio.Event()
        self._in_flight: set[str] = set()
        self._ended: set[str] = set()      # deliveries ended since the last look began
        self._busy: Counter = Counter()
        self._down_until: dict[str, tuple[float, str]] = {}
        self._task: asyncio.Task | None = None
        self.delivered = 0      # counters for /metrics and tests
        self.failed = 0

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="netkit-alerts")

    async def stop(self) -> None:
        """Cancel the loop and the deliveries in flight (they stay in the outbox)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def wake(self) -> None:
        """Look at the outbox now (new alerts were enqueued)."""
        self._wake.set()

    async def _store_call(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def run(self) -> None:
        from netkit.monitor._senders import Senders

        async with Senders() as senders, asyncio.TaskGroup() as group:
            while True:
                self._wake.clear()
                try:
                    await self._look(group, senders)
                except Exception as exc:  # noqa: BLE001 -- a store hiccup: look again later
                    self._log(f"alerts: reading the outbox failed ({exc}); retrying")
                try:
                    async with asyncio.timeout(POLL_SECONDS):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    async def _look(self, group: asyncio.TaskGroup, senders) -> None:
        now = self._clock()
        # A delivery that ends while the due list is being read may be in that list as it was
        # before its end (still undelivered): such keys are skipped until the next look, or
        # they would be sent twice.
        self._ended.clear()
        due = await self._store_call(self._store.due_alerts, now, DUE_BATCH)
        for alert in due:
            if alert.key in self._in_flight or alert.key in self._ended:
                continue
            channel = self._channels.get(alert.channel)
            if channel is None:
                await self._store_call(self._store.alert_failed, alert.key, math.inf,
                                       f"no channel named {alert.channel!r} in the config any more")
                continue
            down = self._down_until.get(channel.name)
            if down is not None and down[0] > now:
                await self._store_call(self._store.alert_failed, alert.key, down[0],
                                       f"put off: the channel failed ({down[1]})")
                continue
            if self._busy[channel.name] >= PER_CHANNEL or len(self._in_flight) >= MAX_IN_FLIGHT:
                continue
            self._in_flight.add(alert.key)
            self._busy[channel.name] += 1
            group.create_task(self._deliver(channel, alert, senders), name=f"netkit-alert {channel.name}")

    async def _deliver(self, channel: Channel, alert: Alert, senders) -> None:
        from netkit.monitor._senders import describe

        try:
            try:
                async with asyncio.timeout(channel.timeout):
                    await senders.send(channel, alert, self._clock())
            except Exception as exc:  # noqa: BLE001 -- any failure of one alert is that alert's
                error, permanent = describe(exc, channel)
            else:
                self._down_until.pop(channel.name, None)
                await self._store_call(self._store.alert_delivered, alert.key, self._clock())
                self.delivered += 1
                return
            now = self._clock()
            attempts = alert.attempts + 1
            if permanent or now - alert.created >= GIVE_UP_AFTER:
                next_at = math.inf
                self._log(f"alerts: {channel.name}: giving up on {alert.kind} of {alert.target!r}: {error}")
            else:
                next_at = now + backoff(attempts)
                self._down_until[channel.name] = (next_at, error)
                self._log(f"alerts: {channel.name}: {error}; retrying in {next_at - now:.0f} s")
            self.failed += 1
            await self._store_call(self._store.alert_failed, alert.key, next_at, error)
        except Exception as exc:  # noqa: BLE001 -- the store failed: the alert stays due
            self._log(f"alerts: recording the delivery of {alert.key!r} failed ({exc})")
        finally:
            self._ended.add(alert.key)
            self._in_flight.discard(alert.key)
            self._busy[channel.name] -= 1
            self._wake.set()


def _log(message: str) -> None:
    import sys

    from netkit.core.text import for_terminal

    print(f"netkit monitor: {for_terminal(message)}", file=sys.stderr, flush=True)
