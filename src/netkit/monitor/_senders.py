"""How each channel type sends one alert: webhook and Slack (aiohttp), email (smtplib in a
thread), a command (asyncio subprocess), Alertmanager's v2 API (aiohttp).

A send returns when the receiver accepted the alert, or raises; :func:`describe` turns the
exception into (one printable line, permanent?): a permanent refusal (a 4xx, a redirect, a 5xx
SMTP reply) is not retried, anything else (timeout, refused connection, reset, 5xx HTTP, 4xx
SMTP) is. Everything that goes into a protocol line (an HTTP header, a mail header) is one
line: a target name or summary with CR/LF in it is escaped, never a header of its own.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import ssl
from datetime import UTC, datetime

from netkit.core.text import check_line_field, for_terminal
from netkit.monitor._channels import Channel
from netkit.monitor._records import Alert

__all__ = ["DeliveryError", "Senders", "describe", "ALERTNAME", "MAX_REPLY", "MAX_OUTPUT"]

# The most of a receiver's reply read (for the error message of a refusal); a 2xx reply is
# not read at all. A receiver answering gigabytes costs this much and a closed connection.
MAX_REPLY = 4096
# The most of a command's output kept (for the error message); the rest is read and dropped
# so the command never blocks on a full pipe.
MAX_OUTPUT = 4096
# SMTP sessions at once (blocking, one thread each): the dispatcher's own in-flight bound.
MAX_MAIL_SESSIONS = 32
# The longest error line kept in the outbox.
MAX_ERROR = 300
# A mail subject: long enough for status, target and the start of the summary.
MAX_SUBJECT = 160
# Alertmanager: the alert's name, and how long a firing alert lasts without a refresh when
# the channel has no resend interval (Alertmanager would otherwise resolve it after its
# resolve_timeout, 5 minutes). With one, a firing alert lasts HOLD_RESENDS intervals, so a
# monitor that died leaves its alerts to expire instead of firing forever.
ALERTNAME = "NetkitTargetProblem"
DEFAULT_HOLD = 86400.0
HOLD_RESENDS = 3
_SEVERITY = {"WARNING": "warning", "CRITICAL": "critical", "UNKNOWN": "unknown", "OK": "none"}
_HEADLINE = {"problem": "{status}", "recovery": "RESOLVED", "reminder": "still {status}"}


class DeliveryError(Exception):
    """The receiver refused or failed; ``permanent``: trying again will not help."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def describe(exc: BaseException, channel: Channel) -> tuple[str, bool]:
    """(one printable line saying what went wrong, whether it is permanent)."""
    import smtplib

    permanent = False
    if isinstance(exc, DeliveryError):
        text, permanent = str(exc), exc.permanent
    elif isinstance(exc, TimeoutError):
        text = f"no answer within {channel.timeout:g} s"
    elif isinstance(exc, smtplib.SMTPResponseException):
        permanent = exc.smtp_code >= 500
        text = f"SMTP server answered {exc.smtp_code} {_text(exc.smtp_error)}"
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        permanent = True
        text = f"SMTP server refused every recipient: {_text(str(exc.recipients))}"
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = for_terminal(text)
    return (text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"), permanent


def _text(data) -> str:
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("utf-8", "replace")
    return for_terminal(str(data).strip())


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@functools.lru_cache(maxsize=16)
def _ssl_context(cafile: str) -> ssl.SSLContext:
    """Verification on: the system's CAs, plus ``cafile`` (a channel's own CA)."""
    context = ssl.create_default_context()
    if cafile:
        context.load_verify_locations(cafile=cafile)
    return context


def headline(payload: dict) -> str:
    """``CRITICAL web1: connection refused`` -- one line, control characters escaped."""
    head = _HEADLINE.get(str(payload.get("kind")), "{status}").format(status=payload.get("status", ""))
    summary = payload.get("summary") or ""
    line = f"{head} {payload.get('target', '')}" + (f": {summary}" if summary else "")
    return for_terminal(line)


class Senders:
    """The channel senders sharing one aiohttp session (``async with Senders() as s``)."""

    def __init__(self):
        self._session = None
        self._mailers = None

    async def __aenter__(self) -> Senders:
        return self

    async def __aexit__(self, *exc) -> None:
        if self._session is not None:
            await self._session.close()
        if self._mailers is not None:
            # A session still running ends at its socket timeout; nobody waits for it.
            self._mailers.shutdown(wait=False, cancel_futures=True)

    async def send(self, channel: Channel, alert: Alert, now: float) -> None:
        if channel.type == "webhook":
            await self._post(channel, channel.url, alert.payload, {"Idempotency-Key": alert.payload["id"]})
        elif channel.type == "slack":
            await self._post(channel, channel.url, {"text": _slack_text(alert.payload)}, {})
        elif channel.type == "alertmanager":
            await self._post(channel, channel.url + "/api/v2/alerts", _alertmanager(channel, alert.payload, now), {})
        elif channel.type == "email":
            if self._mailers is None:
                from concurrent.futures import ThreadPoolExecutor

                # Threads of their own: SMTP sessions stuck until their timeout never hold up
                # the store calls or anything else on asyncio's default executor.
                self._mailers = ThreadPoolExecutor(MAX_MAIL_SESSIONS, thread_name_prefix="netkit-mail")
            await asyncio.get_running_loop().run_in_executor(self._mailers, _send_mail, channel,
                                                             _mail(channel, alert.payload))
        elif channel.type == "command":
            await _run_command(channel, alert.payload)
        else:
            raise DeliveryError(f"unknown channel type {channel.type!r}", permanent=True)

    async def _post(self, channel: Channel, url: str, body, extra: dict) -> None:
        import aiohttp

        if self._session is None:
            # No cookies kept between receivers; no proxy from the environment (an alert must
            # not take a path the config does not show).
            self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), trust_env=False)
        headers = {"Content-Type": "application/json", "User-Agent": "netkit-monitor", **extra,
                   **dict(channel.headers)}
        data = json.dumps(body, ensure_ascii=True).encode()
        async with self._session.post(url, data=data, headers=headers, allow_redirects=False,
                                      ssl=_ssl_context(channel.cafile) if url.startswith("https:") else True) as reply:
            if 200 <= reply.status < 300:
                return          # the body is not read: closing drops the connection if it is long
            snippet = _text(await reply.content.read(MAX_REPLY))
            if 300 <= reply.status < 400:
                from netkit.core.secrets import mask_url

                where = _text(mask_url(reply.headers.get("Location", "")))
                raise DeliveryError(f"answered {reply.status}, a redirect to {where or '(nowhere)'}: not followed "
                                    f"(set the channel's url to the new address)", permanent=True)
            retry = reply.status >= 500 or reply.status in (408, 425, 429)
            raise DeliveryError(f"answered {reply.status} {_text(reply.reason or '')}: {snippet}".rstrip(": "),
                                permanent=not retry)


def _slack_text(payload: dict) -> str:
    """Slack's mrkdwn (Mattermost reads it too): &, < and > escaped so a summary cannot
    mention @channel or forge a link."""
    text = headline(payload)
    if payload.get("url"):
        text += f" ({payload['url']})"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _alertmanager(channel: Channel, payload: dict, now: float) -> list:
    """Alertmanager v2 alerts: a problem fires until refreshed (endsAt ahead), a recovery
    resolves (endsAt now); a change from one problem to another resolves the old severity."""
    import re

    labels = {}
    for name, value in payload.get("labels", {}).items():
        labels[re.sub(r"[^A-Za-z0-9_]", "_", name).lstrip("_") or "label"] = value
    labels.update(dict(channel.labels))
    labels.update(alertname=ALERTNAME, target=payload["target"])
    if payload.get("group"):
        labels["group"] = payload["group"]
    annotations = {"summary": headline(payload), "url": payload.get("url", ""), "netkit_id": payload["id"]}
    hold = HOLD_RESENDS * channel.resend if channel.resend else DEFAULT_HOLD
    since = payload.get("since") or payload["at"]
    alerts = []
    if payload["kind"] == "recovery" or payload["old_status"] not in ("OK", payload["status"]):
        severity = payload["old_status"]
        alerts.append({"labels": {**labels, "severity": _SEVERITY.get(severity, "unknown")},
                       "annotations": annotations, "startsAt": _iso(payload["at"]), "endsAt": _iso(payload["at"])})
    if payload["kind"] != "recovery":
        alerts.append({"labels": {**labels, "severity": _SEVERITY.get(payload["status"], "unknown")},
                       "annotations": annotations, "startsAt": _iso(since), "endsAt": _iso(now + hold)})
    return alerts


def _mail(channel: Channel, payload: dict):
    """The message: every header one checked line (a CR/LF from a target name or summary is
    shown escaped, never a header of its own)."""
    from email.message import EmailMessage
    from email.utils import formatdate

    subject = f"[netkit] {headline(payload)}"
    if len(subject) > MAX_SUBJECT:
        subject = subject[: MAX_SUBJECT - 1] + "…"
    domain = channel.sender.rpartition("@")[2]
    message = EmailMessage()
    for name, value in (("From", channel.sender), ("To", ", ".join(channel.to)), ("Subject", subject),
                        ("Date", formatdate(payload["at"], usegmt=True)),
                        ("Message-ID", f"<{payload['id']}@{domain}>"),
                        ("X-Netkit-Alert-Id", payload["id"])):
        message[name] = check_line_field(value, f"the {name} header")
    lines = [f"{'Kind':<10} {payload['kind']}", f"{'Target':<10} {payload['target']}",
             f"{'URL':<10} {payload.get('url', '')}", f"{'Group':<10} {payload.get('group', '')}",
             f"{'Status':<10} {payload['old_status']} -> {payload['status']}",
             f"{'At':<10} {_iso(payload['at'])}", f"{'Since':<10} {_iso(payload.get('since') or payload['at'])}"]
    lines += [f"{'Label':<10} {k}={v}" for k, v in payload.get("labels", {}).items()]
    lines += [f"{'Location':<10} {k}: {v}" for k, v in payload.get("locations", {}).items()]
    lines = [for_terminal(line) for line in lines]     # one line each, whatever a name holds
    lines += ["", for_terminal(payload.get("summary", ""), keep_newlines=True), "", f"Alert id: {payload['id']}"]
    message.set_content("\n".join(lines) + "\n")
    return message


def _send_mail(channel: Channel, message) -> None:
    """One SMTP session (blocking; run in a thread): TLS as the channel says, never a silent
    downgrade: with starttls = "required" a server without STARTTLS is an error."""
    import smtplib

    context = _ssl_context(channel.cafile)
    if channel.tls == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(channel.host, channel.port, timeout=channel.timeout, context=context)
    else:
        client = smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout)
    with client:
        client.ehlo()
        if channel.tls in ("required", "optional"):
            if client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            elif channel.tls == "required":
                raise DeliveryError(f"{channel.host}:{channel.port} does not offer STARTTLS "
                                    f"(starttls = \"required\"); not sending in clear text")
        if channel.user:
            client.login(channel.user, channel.password)
        client.send_message(message, from_addr=channel.sender, to_addrs=list(channel.to))


# The variables a command channel inherits from the monitor (besides the NETKIT_* it gets).
COMMAND_ENV = frozenset({"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME", "TMPDIR"})


def _env_value(value) -> str:
    return str(value).replace("\0", "")


async def _run_command(channel: Channel, payload: dict) -> None:
    """The channel's argv, no shell, the payload as JSON on stdin and NETKIT_* variables;
    exit status 0 is delivered. The command is killed (its whole process group) when the
    channel's timeout cancels it."""
    # Only what a command needs from ours: the monitor's environment holds the API token,
    # the store's password and other channels' secrets, which a command must not inherit.
    env = {k: v for k, v in os.environ.items() if k in COMMAND_ENV}
    env.update({
        "NETKIT_ALERT_ID": payload["id"], "NETKIT_ALERT_KIND": payload["kind"],
        "NETKIT_TARGET": _env_value(payload["target"]), "NETKIT_URL": _env_value(payload.get("url", "")),
        "NETKIT_GROUP": _env_value(payload.get("group", "")), "NETKIT_STATUS": payload["status"],
        "NETKIT_OLD_STATUS": payload["old_status"], "NETKIT_SUMMARY": _env_value(payload.get("summary", "")),
        "NETKIT_CHANNEL": _env_value(payload.get("channel", "")),
    })
    process = await asyncio.create_subprocess_exec(
        *channel.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env=env, start_new_session=True)
    try:
        async def feed():
            try:
                process.stdin.write(json.dumps(payload).encode() + b"\n")
                await process.stdin.drain()
                process.stdin.close()
            except (BrokenPipeError, ConnectionResetError):
                pass    # the command did not read its stdin: its exit status still counts

        async def drain_output() -> bytes:
            assert process.stdout is not None  # stdout=PIPE above
            kept = b""
            while chunk := await process.stdout.read(65536):
                kept = (kept + chunk)[:MAX_OUTPUT]
            return kept

        _, output = await asyncio.gather(feed(), drain_output())
        status = await process.wait()
    finally:
        if process.returncode is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await process.wait()
    if status != 0:
        lines = output.decode("utf-8", "replace").strip().splitlines()
        raise DeliveryError(f"{channel.argv[0]} exited with status {status}" +
                            (f": {_text(lines[-1])}" if lines else ""))
