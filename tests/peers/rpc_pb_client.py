"""The texts' Perspective Broker client (examples 5.15 and 5.16), as a script: Twisted's
reactor runs once per process, so each test call is a child process.

    python -m tests.peers.rpc_pb_client HOST PORT METHOD [JSON-ARG...]
    -> one line: RESULT <json>   or   ERROR <failure's message>

``--psacb`` sends example 5.8's object (psacbpb.PSACB, from the directory in PYTHONPATH)
as the argument; ``--unlisted`` an instance of a class the server never registered;
``--token T`` logs in first.
"""

import json
import sys

from twisted.internet import reactor
from twisted.spread import pb


def main(argv):
    token = None
    if argv[0] == "--token":
        token, argv = argv[1], argv[2:]
    host, port, method, *raw = argv
    if raw and raw[0] == "--psacb":
        from psacbpb import PSACB

        args = [PSACB()]
    elif raw and raw[0] == "--unlisted":
        from psacbpb import Unlisted

        args = [Unlisted()]
    else:
        args = [json.loads(a) for a in raw]

    def handle_err(reason):
        print("ERROR", reason.getErrorMessage(), flush=True)
        reactor.stop()

    def call_ls(def_call_obj):
        return def_call_obj.callRemote(method, *args)

    def print_ls(print_result):
        print("RESULT", json.dumps(print_result), flush=True)
        reactor.stop()

    factory = pb.PBClientFactory()
    reactor.connectTCP(host, int(port), factory)
    d = factory.getRootObject()
    if token is not None:
        d.addCallback(lambda root: root.callRemote("login", token))
    d.addCallback(call_ls)
    d.addCallback(print_ls)
    d.addErrback(handle_err)
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
