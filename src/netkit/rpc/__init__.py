"""``netkit rpc``: expose functions over XML-RPC, JSON-RPC 2.0, Pyro5 and Twisted
Perspective Broker -- one set of functions, every protocol -- and call them.

Serving, as ``netkit rpc serve`` does::

    from netkit.rpc import ServerConfig, run
    run(ServerConfig("xmlrpc", root="/srv", module="tools.py"))

A module of one's own marks what is reachable (nothing else is)::

    from netkit.rpc import expose

    @expose
    def add(x, y):
        return x + y

Calling, as ``netkit rpc call`` does::

    from netkit.rpc import call
    call("http://127.0.0.1:8765/", "ls", ["."])

Imports are lazy: ``import netkit.rpc`` loads nothing until a name is used.
"""

from netkit.core.lazy import lazy_names

_MODULES = {
    "netkit.rpc._client": ("Fault", "call", "parse_arg"),
    "netkit.rpc._faults": ("Busy", "CallFailed", "CallTimeout", "InternalFault", "InvalidParams", "InvalidRequest",
                           "MethodNotFound", "OutsideRoot", "ParseFault", "RpcFault", "TooBig"),
    "netkit.rpc._registry": ("Dispatcher", "Limits", "Registry", "expose", "value_class"),
    "netkit.rpc._serve": ("PROTOCOLS", "ServerConfig", "run"),
}
__all__, __getattr__, __dir__ = lazy_names(__name__, _MODULES)  # tests/unit/test_rpc_logic.py pins __all__
