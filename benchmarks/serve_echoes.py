#!/usr/bin/env python3
"""The echo servers netkit serve is measured against, each the way its users write it:

    stdlib    socketserver.ThreadingTCPServer + StreamRequestHandler (the source texts' echo):
              a thread per connection, readline / write
    twisted   a LineReceiver echo (Twisted Network Programming Essentials), sendLine per line
    asyncio   asyncio streams (start_server, readline / write / drain) on asyncio's own loop

    python serve_echoes.py KIND PORT    -- prints "ready" on stdout when listening
"""

import sys


def stdlib(port):
    import socketserver

    class Echo(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                self.wfile.write(line)

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
        request_queue_size = 1024

    server = Server(("127.0.0.1", port), Echo)
    print("ready", flush=True)
    server.serve_forever()


def twisted(port):
    from twisted.internet import protocol, reactor
    from twisted.protocols.basic import LineReceiver

    class Echo(LineReceiver):
        delimiter = b"\n"
        MAX_LENGTH = 65536

        def lineReceived(self, line):
            self.sendLine(line)

    factory = protocol.ServerFactory()
    factory.protocol = Echo
    reactor.listenTCP(port, factory, interface="127.0.0.1", backlog=1024)
    reactor.callWhenRunning(lambda: print("ready", flush=True))
    reactor.run()


def asyncio_streams(port):
    import asyncio

    async def handle(reader, writer):
        while line := await reader.readline():
            writer.write(line)
            await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        print("ready", flush=True)
        await server.serve_forever()

    asyncio.run(main())


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    {"stdlib": stdlib, "twisted": twisted, "asyncio": asyncio_streams}[kind](port)
