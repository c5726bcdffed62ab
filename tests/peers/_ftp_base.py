"""The pieces the hand-written FTP test peers share: a control-connection handler that
replies in UTF-8 (surrogates pass, so a hostile name goes out byte for byte), opens a
passive data listener on loopback and accepts the client's data connection on it."""

from __future__ import annotations

import socket
import socketserver

HOST = "127.0.0.1"
# How long a peer waits for the client's data connection after its 150 reply.
DATA_ACCEPT_TIMEOUT = 5


class FtpHandler(socketserver.StreamRequestHandler):
    def reply(self, text: str) -> None:
        self.wfile.write(text.encode("utf-8", "surrogateescape") + b"\r\n")
        self.wfile.flush()

    def passive(self) -> socket.socket:
        """A data listener on loopback, announced with a true 227 reply."""
        listener = socket.create_server((HOST, 0))
        port = listener.getsockname()[1]
        self.reply(f"227 Entering Passive Mode (127,0,0,1,{port >> 8},{port & 255})")
        return listener

    def accept_data(self, listener: socket.socket) -> socket.socket | None:
        """The client's data connection on ``listener`` (closed here), or None after a 425 reply."""
        listener.settimeout(DATA_ACCEPT_TIMEOUT)
        try:
            return listener.accept()[0]
        except OSError:
            self.reply("425 no data connection")
            return None
        finally:
            listener.close()
