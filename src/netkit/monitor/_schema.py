"""The monitor store's tables, their migrations, and how records become rows and back.

Shared by both engines (``_sqlite``, ``_postgres``): the SQL here is written once, with
``?`` placeholders (PostgreSQL's engine turns them into ``%s``) and a few type names filled
in per engine (``{real}``, ``{key}``), never with data: every value goes in as a parameter.

Values from peers (summary, details, dialogue) are arbitrary text: they are cut to the
bounds below (named, with their reason), NUL and lone surrogates are replaced (PostgreSQL
refuses both in text, SQLite's UTF-8 cannot hold a surrogate), and JSON is stored as text in
both engines so both read back exactly what was written.
"""

from __future__ import annotations

import json
import math

from netkit.monitor._records import Alert, Sample, StoredEvent, TargetInfo, Verdict

# A Nagios line's text is read by people on one line of a table: 1 KiB is a long line.
MAX_SUMMARY = 1024
# CheckResult.details are protocol facts (HTTP status, TLS certificate fields...): a few
# hundred bytes; 16 KiB leaves room for a certificate chain's names without letting one
# hostile peer's reply grow every sample.
MAX_DETAILS = 16 * 1024
# The transcript of a failed run, kept to see what the peer said: 64 KiB per sample, so
# 10,000 targets all failing at once write at most 640 MiB a minute, not unbounded.
MAX_DIALOGUE = 64 * 1024
# One transcript line (a hostile peer may send a megabyte without a newline).
MAX_DIALOGUE_LINE = 4096
# An event's data (a state change's fields, a verdict's locations).
MAX_EVENT_DATA = 16 * 1024
# An alert's message data: the summary, labels and links of one message.
MAX_PAYLOAD = 64 * 1024
# A channel's last error (an HTTP reply head, an SMTP reply line, a command's stderr tail).
MAX_ERROR = 1024
# A string inside an oversized JSON value is cut to this before the value is given up.
MAX_JSON_STRING = 256

TRUNCATED = "\u2026"   # marks text cut to its bound

# The engine-specific words in the DDL: {real} a float8, {key} a short text compared by
# bytes (ids, locations, keys), {text} any text, {clustered} a small-row table kept in its
# primary key's order (SQLite's WITHOUT ROWID: one b-tree instead of a table and an index).
SQLITE_TYPES = {"real": "REAL", "key": "TEXT", "text": "TEXT", "clustered": " WITHOUT ROWID"}
POSTGRES_TYPES = {"real": "DOUBLE PRECISION", "key": 'TEXT COLLATE "C"', "text": "TEXT", "clustered": ""}

# Numbered steps: step N brings a store from version N-1 to N. Never edit a released step;
# add one. Each runs in one transaction with the version update.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the tables.
    (
        """CREATE TABLE targets (
            id {key} PRIMARY KEY, url {text} NOT NULL, grp {text} NOT NULL, labels {text} NOT NULL,
            every {real} NOT NULL, locations {text} NOT NULL, quorum INTEGER NOT NULL,
            active INTEGER NOT NULL, updated {real} NOT NULL)""",
        """CREATE TABLE samples (
            target {key} NOT NULL, location {key} NOT NULL, at {real} NOT NULL,
            duration {real} NOT NULL, status SMALLINT NOT NULL, summary {text} NOT NULL,
            details {text}, dialogue {text}, cert_expiry {real})""",
        # A target's samples by time (history, uptime, folding a chunk of targets); location
        # last, so a target's last sample per location is found near the newest entry.
        "CREATE INDEX samples_target ON samples (target, at, location)",
        "CREATE INDEX samples_at ON samples (at)",
        """CREATE TABLE states (
            target {key} NOT NULL, location {key} NOT NULL, state {text} NOT NULL,
            updated {real} NOT NULL, PRIMARY KEY (target, location))""",
        "CREATE INDEX states_updated ON states (updated)",
        """CREATE TABLE events (
            target {key} NOT NULL, location {key} NOT NULL, at {real} NOT NULL,
            kind {key} NOT NULL, data {text} NOT NULL)""",
        "CREATE INDEX events_target ON events (target, at)",
        "CREATE INDEX events_at ON events (at)",
        """CREATE TABLE verdicts (
            target {key} PRIMARY KEY, status SMALLINT NOT NULL, since {real}, locations {text} NOT NULL,
            flapping INTEGER NOT NULL, acked INTEGER NOT NULL, updated {real} NOT NULL)""",
        """CREATE TABLE incidents (
            target {key} NOT NULL, start {real} NOT NULL, finish {real}, status SMALLINT NOT NULL,
            PRIMARY KEY (target, start))""",
        "CREATE INDEX incidents_finish ON incidents (finish)",
        """CREATE TABLE outbox (
            key {key} PRIMARY KEY, channel {key} NOT NULL, target {key} NOT NULL, kind {key} NOT NULL,
            payload {text} NOT NULL, created {real} NOT NULL, next_at {real} NOT NULL,
            attempts INTEGER NOT NULL, last_error {text} NOT NULL, delivered {real})""",
        "CREATE INDEX outbox_due ON outbox (next_at) WHERE delivered IS NULL",
        "CREATE INDEX outbox_last ON outbox (target, channel, created)",
        """CREATE TABLE acks (
            target {key} NOT NULL, at {real} NOT NULL, author {text} NOT NULL,
            comment {text} NOT NULL, sticky INTEGER NOT NULL, cleared {real},
            PRIMARY KEY (target, at))""",
        """CREATE TABLE rollups (
            step INTEGER NOT NULL, target {key} NOT NULL, location {key} NOT NULL, at {real} NOT NULL,
            count INTEGER NOT NULL, failures INTEGER NOT NULL, min {real} NOT NULL, avg {real} NOT NULL,
            max {real} NOT NULL, p50 {real} NOT NULL, p95 {real} NOT NULL, p99 {real} NOT NULL,
            PRIMARY KEY (step, target, location, at)){clustered}""",
        # Every target's rollups in a time range (uptime of all, pruning): covering what
        # uptime() reads, so a 30-day answer for 10,000 targets never visits the rows.
        "CREATE INDEX rollups_at ON rollups (step, at, target, count, failures)",
    ),
    # 2: how far each rollup step has folded the samples (rollup() and uptime() read it).
    (
        "CREATE TABLE rollup_marks (step INTEGER PRIMARY KEY, mark {real} NOT NULL)",
    ),
    # 3: the dashboard's actions: maintenance windows added at runtime, paused targets.
    (
        """CREATE TABLE windows (
            id {key} PRIMARY KEY, target {key} NOT NULL, start {real} NOT NULL, finish {real} NOT NULL,
            author {text} NOT NULL, comment {text} NOT NULL, created {real} NOT NULL)""",
        "CREATE INDEX windows_finish ON windows (finish)",
        """CREATE TABLE paused (
            target {key} PRIMARY KEY, at {real} NOT NULL, author {text} NOT NULL, comment {text} NOT NULL)""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def ddl(statement: str, types: dict) -> str:
    return statement.format(**types)


# -- text and JSON bounded -----------------------------------------------------------------

def clean_text(value, limit: int) -> str:
    """``value`` as text storable by both engines, at most ``limit`` UTF-8 bytes."""
    text = value if isinstance(value, str) else str(value)
    data = text.replace("\x00", "\ufffd").encode("utf-8", "replace")
    if len(data) <= limit:
        return data.decode("utf-8")
    cut = limit - len(TRUNCATED.encode())
    return data[:cut].decode("utf-8", "ignore") + TRUNCATED


def _shrunk(value):
    if isinstance(value, str):
        return value if len(value) <= MAX_JSON_STRING else value[:MAX_JSON_STRING] + TRUNCATED
    if isinstance(value, dict):
        return {str(k)[:MAX_JSON_STRING]: _shrunk(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_shrunk(v) for v in value]
    return value


def _dumps(value) -> str:
    # ensure_ascii: NUL and lone surrogates become \u escapes, storable everywhere.
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str)


def bounded_json(value, limit: int) -> str | None:
    """``value`` as JSON text of at most ``limit`` bytes: as is, else with long strings cut,
    else a marker saying how big it was (the record stays storable; one bad peer cannot
    fail a batch)."""
    if value is None:
        return None
    try:
        text = _dumps(value)
    except (TypeError, ValueError):   # keys that are not text, a value that holds itself
        text = None
    if text is not None and len(text) <= limit:
        return text
    try:
        shrunk = _dumps(_shrunk(value))
    except (TypeError, ValueError, RecursionError):
        return _dumps({"unstorable": type(value).__name__})
    if len(shrunk) <= limit:
        return shrunk
    return _dumps({"truncated": True, "bytes": len(text or shrunk)})


def dialogue_json(lines) -> str | None:
    """A transcript as a JSON list of lines, each cut to MAX_DIALOGUE_LINE, the whole to
    MAX_DIALOGUE (a last line says how many lines were left out)."""
    if lines is None:
        return None
    if isinstance(lines, str):
        lines = lines.splitlines()
    kept, size = [], 2
    lines = list(lines)
    for index, line in enumerate(lines):
        line = clean_text(line, MAX_DIALOGUE_LINE)
        cost = len(_dumps(line)) + 1
        if size + cost > MAX_DIALOGUE - 64:   # room for the marker line
            kept.append(f"{TRUNCATED} {len(lines) - index} more lines")
            break
        kept.append(line)
        size += cost
    return _dumps(kept)


def _loads(text):
    return None if text is None else json.loads(text)


def _pairs(value) -> tuple:
    return tuple(tuple(item) if isinstance(item, list) else item for item in value or ())


def _finite(value, name: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite time, got {value!r}")
    return number


# -- records <-> rows ----------------------------------------------------------------------

SAMPLE_COLUMNS = "target, location, at, duration, status, summary, details, dialogue, cert_expiry"


def sample_row(sample: Sample) -> tuple:
    """A Sample as a row of SAMPLE_COLUMNS; the dialogue is kept for non-OK runs only."""
    dialogue = dialogue_json(sample.dialogue) if sample.status != 0 else None
    expiry = sample.cert_expiry
    duration = float(sample.duration)
    status = int(sample.status)
    return (sample.target, sample.location, _finite(sample.at, "a sample's time"),
            duration if math.isfinite(duration) and duration >= 0 else 0.0,
            status if 0 <= status <= 3 else 3,   # a status we do not know is UNKNOWN
            clean_text(sample.summary, MAX_SUMMARY), bounded_json(sample.details, MAX_DETAILS),
            dialogue, None if expiry is None or not math.isfinite(expiry) else float(expiry))


def sample_from(row) -> Sample:
    target, location, at, duration, status, summary, details, dialogue, expiry = row
    dialogue = _loads(dialogue)
    return Sample(target=target, location=location, at=at, duration=duration, status=int(status),
                  summary=summary, details=_loads(details),
                  dialogue=None if dialogue is None else tuple(dialogue), cert_expiry=expiry)


TARGET_COLUMNS = "id, url, grp, labels, every, locations, quorum"


def target_row(info: TargetInfo) -> tuple:
    return (info.id, clean_text(info.url, MAX_SUMMARY), clean_text(info.group, MAX_SUMMARY),
            _dumps([list(pair) for pair in info.labels]), float(info.interval), _dumps(list(info.locations)),
            int(info.quorum))


def target_from(row) -> TargetInfo:
    id_, url, group, labels, interval, locations, quorum = row
    return TargetInfo(id=id_, url=url, group=group, labels=_pairs(json.loads(labels)), interval=interval,
                      locations=tuple(json.loads(locations)), quorum=int(quorum))


def event_row(event: StoredEvent) -> tuple:
    return (event.target, event.location, _finite(event.at, "an event's time"), clean_text(event.kind, 64),
            bounded_json(event.data or {}, MAX_EVENT_DATA))


def event_from(row) -> StoredEvent:
    target, location, at, kind, data = row
    return StoredEvent(target=target, location=location, at=at, kind=kind, data=json.loads(data))


VERDICT_COLUMNS = "target, status, since, locations, flapping, acked"


def verdict_row(verdict: Verdict) -> tuple:
    return (verdict.target, int(verdict.status), verdict.since, _dumps([list(p) for p in verdict.locations]),
            int(bool(verdict.flapping)), int(bool(verdict.acked)))


def verdict_from(row) -> Verdict:
    target, status, since, locations, flapping, acked = row
    return Verdict(target=target, status=int(status), since=since, locations=_pairs(json.loads(locations)),
                   flapping=bool(flapping), acked=bool(acked))


ALERT_COLUMNS = "key, channel, target, kind, payload, created, next_at, attempts, last_error, delivered"


def alert_row(alert: Alert) -> tuple:
    return (alert.key, alert.channel, alert.target, alert.kind, bounded_json(alert.payload, MAX_PAYLOAD),
            float(alert.created), float(alert.next_at), int(alert.attempts),
            clean_text(alert.last_error, MAX_ERROR), alert.delivered)


def alert_from(row) -> Alert:
    key, channel, target, kind, payload, created, next_at, attempts, last_error, delivered = row
    return Alert(key=key, channel=channel, target=target, kind=kind, payload=json.loads(payload),
                 created=created, next_at=next_at, attempts=int(attempts), last_error=last_error,
                 delivered=delivered)
