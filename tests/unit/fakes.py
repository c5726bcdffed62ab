"""Drive dialogues without sockets: a scripted peer answers each action."""

from netkit.proto.actions import Close, Connect, Recv, Send, StartTLS, TLSInfo


class FakePeer:
    """Replies come from ``replies``: one list of byte strings per connection made.

    Each Recv takes the next piece of its channel's connection (b"" once exhausted: EOF).
    Everything sent is recorded per connection in ``sent``.
    """

    def __init__(self, *replies, tls_chain=()):
        self.replies = [list(r) for r in replies]
        self.connects = []
        self.sent = []
        self.tls = []
        self.tls_chain = list(tls_chain)
        self.channels = {}  # channel -> index of its connection

    def run(self, dialogue):
        result = None
        try:
            action = next(dialogue)
            while True:
                if isinstance(action, Connect):
                    self.connects.append(action)
                    self.sent.append(b"")
                    self.channels[action.channel] = len(self.connects) - 1
                    result = f"{action.host}:{action.port}"
                elif isinstance(action, StartTLS):
                    self.tls.append(action.params)
                    result = TLSInfo("TLSv1.3", "TLS_AES_128_GCM_SHA256", 128, self.tls_chain, True,
                                     action.params.server_name)
                elif isinstance(action, Send):
                    self.sent[self.channels[action.channel]] += action.data
                    result = None
                elif isinstance(action, Close):
                    result = None
                elif isinstance(action, Recv):
                    queue = self.replies[self.channels[action.channel]]
                    result = queue.pop(0) if queue else b""
                    if len(result) > action.size:  # a short read, as a socket gives
                        queue.insert(0, result[action.size :])
                        result = result[: action.size]
                action = dialogue.send(result)
        except StopIteration as stop:
            return stop.value
