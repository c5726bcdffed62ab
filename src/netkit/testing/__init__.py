"""Helpers for tests of code built on netkit, shipped with it.

:class:`FakePeer` answers a dialogue of :mod:`netkit.proto` (the sans-I/O protocol logic of
checks, mail and FTP) from a script, without sockets, and records what the dialogue sent::

    from netkit.proto.http import Request, http_dialogue
    from netkit.testing import FakePeer

    def test_my_health_check_sends_the_host():
        peer = FakePeer([b"HTTP/1.1 204 No Content\\r\\n\\r\\n"])
        outcome = peer.run(http_dialogue(...))
        assert b"Host: " in peer.sent[0]

netkit's own tests use it the same way (tests/unit/test_dialogues.py).
"""

from netkit.testing._peer import FakePeer

__all__ = ["FakePeer"]
