"""The UDP side of the services: one reply per datagram, each paid for from its
destination's budget (:mod:`netkit.serve._ratelimit`), so no forged source address turns
a service into an amplifier or a loop; refusals and drops counted, logged once a sweep."""

import asyncio
import time

from netkit.proto import services as logic
from netkit.serve._ratelimit import SOURCE_RATE, ReplyBudget

__all__ = ["Datagrams"]

_DATAGRAM_LOGIC = {"echo": logic.echo_datagram, "reverse": logic.reverse_datagram,
                   "chargen": logic.chargen_datagram, "discard": lambda _data: None}


class Datagrams(asyncio.DatagramProtocol):
    """One UDP socket of a service: ``listener`` (netkit.serve._server) gives the service,
    --allow, the limits and the log."""

    def __init__(self, listener):
        self.listener = listener
        self.transport = None
        service = listener.service
        self.answer = (lambda _d: logic.time_text(time.time(), service.iso)) if service.kind == "time" \
            else _DATAGRAM_LOGIC[service.kind]
        # Every reply is paid for from its destination's budget: no amplifier, no loop
        # with another echo service, whatever source address a datagram claims.
        self.budget = ReplyBudget(rate=SOURCE_RATE / listener.workers)
        self.answered = self.refused = self.dropped = self.limited = self.failed = 0

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        listener = self.listener
        host = addr[0] if isinstance(addr, tuple) else addr
        if listener.allow and not listener.allowed(host):
            self.refused += 1
            return
        try:
            reply = self.answer(data)
        except Exception:  # noqa: BLE001 - one bad datagram must not reach the loop's handler
            self.failed += 1
            return
        if reply is None:
            return
        if not self.budget.allow(host, len(reply), time.monotonic()):
            self.limited += 1
            return
        if self.transport.get_write_buffer_size() > listener.service.limits.max_output:
            self.dropped += 1
            return
        self.transport.sendto(reply, addr)
        self.answered += 1

    def error_received(self, exc):
        pass  # ICMP port unreachable from a client that left: nothing to do

    def report(self, final=False):
        """A log line when something was refused or dropped since the last one (at most
        one per sweep, not one per datagram: a flood must not flood the log)."""
        if self.refused or self.dropped or self.limited or self.failed or (final and self.answered):
            self.listener.log(f"{'stopped: ' if final else ''}{self.answered} datagrams answered, "
                              f"{self.refused} refused (not in --allow), {self.dropped} dropped (--max-output), "
                              f"{self.limited} not answered (over {SOURCE_RATE // 1024} KiB/s of replies to one "
                              f"address)" + (f", {self.failed} failed" if self.failed else ""))
            self.answered = self.refused = self.dropped = self.limited = self.failed = 0
