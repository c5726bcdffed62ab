"""How much a UDP service may send to one address: a token bucket per source, in bytes.

UDP has no handshake, so a datagram's source address is whatever the sender wrote: an
attacker who spoofs a victim's address turns every reply into traffic aimed at the
victim -- 512 bytes of chargen for an empty datagram (an amplifier), and, from echo, a
reply to another echo service that answers back for ever. So every UDP reply is paid for
from its destination's bucket: a client asking a few times a second never notices; a
flood, spoofed or not, gets at most SOURCE_BURST bytes and then SOURCE_RATE bytes a
second, whatever it sends. Replies over budget are dropped silently (and counted).

The table of buckets is bounded (MAX_SOURCES): a bucket idle long enough to be full again
says nothing a new one would not, so the least recently used is reclaimed when it is;
when every bucket is still in use (a flood from many spoofed addresses), the sources
without one share a single bucket, so memory and the bytes sent stay bounded either way.

Pure logic: the clock is passed in.
"""

from collections import OrderedDict

__all__ = ["MAX_SOURCES", "SOURCE_BURST", "SOURCE_RATE", "ReplyBudget"]

# Bytes a second of replies to one address: 64 chargen replies or a few hundred echoes a
# second is more than a person or a monitoring probe asks for, and too little to matter
# as reflected traffic (it is 0.25 Mbit/s).
SOURCE_RATE = 32 * 1024
# Bytes a quiet address may be sent at once: a burst of 128 chargen replies, and at least
# the largest reply there is (the echo of a 65,507-byte datagram), or it could never go.
SOURCE_BURST = 64 * 1024
# Addresses tracked at once (about 100 bytes each): far more than a test service's
# clients; a spoofed flood from more addresses shares one bucket instead.
MAX_SOURCES = 4096


class ReplyBudget:
    """``allow(address, size, now)``: whether ``size`` bytes may be sent to ``address``
    now (and they are then spent). ``rate`` bytes a second, ``burst`` at most, per
    address; at most ``max_sources`` addresses tracked."""

    __slots__ = ("buckets", "burst", "max_sources", "overflow", "rate")

    def __init__(self, rate: float = SOURCE_RATE, burst: float = SOURCE_BURST, max_sources: int = MAX_SOURCES):
        if rate <= 0 or burst <= 0 or max_sources < 1:
            raise ValueError("rate, burst and max_sources must be positive")
        self.rate = rate
        self.burst = burst
        self.max_sources = max_sources
        self.buckets: OrderedDict[str, list[float]] = OrderedDict()  # address -> [tokens, when last refilled], least recent first
        self.overflow: list[float] | None = None  # the bucket shared by addresses that found the table full

    def allow(self, address, size: int, now: float) -> bool:
        buckets = self.buckets
        bucket = buckets.get(address)
        if bucket is not None:
            buckets.move_to_end(address)
        else:
            if len(buckets) >= self.max_sources:
                self._reclaim(now)
            if len(buckets) < self.max_sources:
                bucket = buckets[address] = [self.burst, now]
            else:
                if self.overflow is None:
                    self.overflow = [self.burst, now]
                bucket = self.overflow
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens < size:
            bucket[0] = tokens
            return False
        bucket[0] = tokens - size
        return True

    def _reclaim(self, now: float) -> None:
        """Forget the least recently used buckets that have filled up again (a new bucket
        would be the same); a few at a time, so a full table costs no scan."""
        buckets = self.buckets
        for _ in range(2):
            if not buckets:
                return
            address, (tokens, when) = next(iter(buckets.items()))
            if tokens + (now - when) * self.rate < self.burst:
                return
            del buckets[address]

    def __len__(self) -> int:
        return len(self.buckets)
