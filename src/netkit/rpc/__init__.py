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

TYPE_CHECKING = False

_MODULES = {
    "netkit.rpc._client": ("Fault", "call", "parse_arg"),
    "netkit.rpc._faults": ("Busy", "CallFailed", "CallTimeout", "InternalFault", "InvalidParams", "InvalidRequest",
                           "MethodNotFound", "OutsideRoot", "ParseFault", "RpcFault", "TooBig"),
    "netkit.rpc._registry": ("Dispatcher", "Limits", "Registry", "expose", "value_class"),
    "netkit.rpc._serve": ("PROTOCOLS", "ServerConfig", "run"),
}
if TYPE_CHECKING:  # what mypy and IDEs see: _MODULES' names (tests/test_exported_members.py)
    from netkit.rpc._client import Fault as Fault
    from netkit.rpc._client import call as call
    from netkit.rpc._client import parse_arg as parse_arg
    from netkit.rpc._faults import Busy as Busy
    from netkit.rpc._faults import CallFailed as CallFailed
    from netkit.rpc._faults import CallTimeout as CallTimeout
    from netkit.rpc._faults import InternalFault as InternalFault
    from netkit.rpc._faults import InvalidParams as InvalidParams
    from netkit.rpc._faults import InvalidRequest as InvalidRequest
    from netkit.rpc._faults import MethodNotFound as MethodNotFound
    from netkit.rpc._faults import OutsideRoot as OutsideRoot
    from netkit.rpc._faults import ParseFault as ParseFault
    from netkit.rpc._faults import RpcFault as RpcFault
    from netkit.rpc._faults import TooBig as TooBig
    from netkit.rpc._registry import Dispatcher as Dispatcher
    from netkit.rpc._registry import Limits as Limits
    from netkit.rpc._registry import Registry as Registry
    from netkit.rpc._registry import expose as expose
    from netkit.rpc._registry import value_class as value_class
    from netkit.rpc._serve import PROTOCOLS as PROTOCOLS
    from netkit.rpc._serve import ServerConfig as ServerConfig
    from netkit.rpc._serve import run as run
else:
    __all__, __getattr__, __dir__ = lazy_names(__name__, _MODULES)
