"""FakePeer: drive a dialogue of :mod:`netkit.proto` without sockets, from a script."""

import asyncio

from netkit.proto.actions import Await, Close, Connect, Recv, Send, StartTLS, TLSInfo, TLSParams

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from netkit.proto.actions import Action, Dialogue, T

__all__ = ["FakePeer"]


class FakePeer:
    """A scripted peer that answers each action a dialogue yields, as a driver would.

    ``replies`` holds one iterable of byte strings per connection the dialogue makes, in the
    order it makes them. Each :class:`~netkit.proto.actions.Recv` on a connection takes its
    next piece (cut to the ``Recv``'s size, as a short read from a socket is), and ``b""``
    (EOF) once they run out. A ``StartTLS`` succeeds with TLS 1.3 and ``tls_chain`` (DER
    certificates, leaf first) as the peer's chain; an ``Await`` runs its coroutine with
    :func:`asyncio.run`.

    What the dialogue did is kept for the test to assert on: ``actions`` (every action in
    order), ``connects`` (the ``Connect`` actions), ``sent`` (the bytes sent, one
    ``bytes`` per connection) and ``tls`` (each handshake's ``TLSParams``)::

        from netkit.proto.line import tcp_dialogue
        from netkit.testing import FakePeer

        peer = FakePeer([b"220 mail.example ESMTP\\r\\n"])
        outcome = peer.run(tcp_dialogue("mail.example", 25, expects=[b"ESMTP"], quit=b"QUIT\\r\\n"))
        assert outcome.matched and peer.sent == [b"QUIT\\r\\n"]
    """

    def __init__(self, *replies: "Iterable[bytes]", tls_chain: "Iterable[bytes]" = ()) -> None:
        self.replies: list[list[bytes]] = [list(r) for r in replies]
        self.actions: list[Action] = []
        self.connects: list[Connect] = []
        self.sent: list[bytes] = []
        self.tls: list[TLSParams] = []
        self.tls_chain: list[bytes] = list(tls_chain)
        self._channels: dict[int, int] = {}  # channel -> index of its connection

    def run(self, dialogue: "Dialogue[T]") -> "T":
        """Answer ``dialogue``'s actions until it returns, and return what it returns."""
        try:
            action = next(dialogue)
            while True:
                self.actions.append(action)
                action = dialogue.send(self.answer(action))
        except StopIteration as stop:
            result: T = stop.value
            return result

    def answer(self, action: "Action") -> object:
        """What a driver would send back for ``action`` (see :mod:`netkit.proto.actions`)."""
        if isinstance(action, Connect):
            if len(self.connects) == len(self.replies):
                self.replies.append([])  # a connection beyond the script: EOF at once
            self.connects.append(action)
            self.sent.append(b"")
            self._channels[action.channel] = len(self.connects) - 1
            return f"{action.host}:{action.port}"
        if isinstance(action, StartTLS):
            self.tls.append(action.params)
            return TLSInfo("TLSv1.3", "TLS_AES_128_GCM_SHA256", 128, self.tls_chain, True, action.params.server_name)
        if isinstance(action, Send):
            self.sent[self._connection(action)] += action.data
            return None
        if isinstance(action, Recv):
            queue = self.replies[self._connection(action)]
            piece = queue.pop(0) if queue else b""
            if len(piece) > action.size:  # a short read, as a socket gives
                queue.insert(0, piece[action.size :])
                piece = piece[: action.size]
            return piece
        if isinstance(action, Await):
            return asyncio.run(action.factory())
        if isinstance(action, Close):
            return None
        raise TypeError(f"not an action: {action!r}")

    def _connection(self, action: "Send | Recv") -> int:
        if action.channel not in self._channels:
            raise AssertionError(f"{action!r} on channel {action.channel}, which has no connection")
        return self._channels[action.channel]
