"""The typed faults every protocol carries: one code and one message, never a traceback.

::

    RpcFault                  code     a call failed; the client sees code and message
     ├── ParseFault          -32700    not well-formed, refused XML/JSON (entities, too deep)
     ├── InvalidRequest      -32600    well-formed but not a call
     ├── MethodNotFound      -32601    no such exposed method (dotted names, attributes)
     ├── InvalidParams       -32602    wrong number or kind of arguments
     ├── InternalFault       -32603    a bug on the server (details only with --debug)
     ├── CallFailed          -32000    the function failed (an OS error: no such file ...)
     ├── OutsideRoot         -32001    a path that leaves --root ('..', a link)
     ├── CallTimeout         -32003    the call's deadline passed
     ├── TooBig              -32004    a request, or its nesting, over a limit
     └── Busy                -32005    more calls waiting than the server queues

The codes are the XML-RPC "specification for fault code interoperability", which JSON-RPC
2.0 took over; -32000 to -32099 are the range it leaves to servers. Over Pyro and PB the
fault travels as the builtin exception a Python caller expects (:meth:`RpcFault.builtin`).
"""

__all__ = ["Busy", "CallFailed", "CallTimeout", "InternalFault", "InvalidParams", "InvalidRequest",
           "MethodNotFound", "OutsideRoot", "ParseFault", "RpcFault", "TooBig", "from_os_error"]


class RpcFault(Exception):
    """A call's failure as the client sees it: ``code`` and one line of ``message``."""

    code = -32603
    builtin_type: type[Exception] = RuntimeError  # what a Pyro or PB client gets

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def builtin(self) -> Exception:
        """The exception a Python client of Pyro or PB gets: a builtin type (their
        serializers rebuild only those), message prefixed with the fault's name."""
        return self.builtin_type(f"{type(self).__name__}: {self.message}")


class ParseFault(RpcFault):
    code = -32700
    builtin_type = ValueError


class InvalidRequest(RpcFault):
    code = -32600
    builtin_type = ValueError


class MethodNotFound(RpcFault):
    code = -32601
    builtin_type = AttributeError


class InvalidParams(RpcFault):
    code = -32602
    builtin_type = TypeError


class InternalFault(RpcFault):
    code = -32603
    builtin_type = RuntimeError


class CallFailed(RpcFault):
    code = -32000
    builtin_type = OSError


class OutsideRoot(RpcFault):
    code = -32001
    builtin_type = PermissionError


class CallTimeout(RpcFault):
    code = -32003
    builtin_type = TimeoutError


class TooBig(RpcFault):
    code = -32004
    builtin_type = ValueError


class Busy(RpcFault):
    code = -32005
    builtin_type = RuntimeError


def from_os_error(exc: OSError, what: str) -> CallFailed:
    """``what: No such file or directory (ENOENT)``: the client's own words for the path,
    never the server's absolute path."""
    import errno
    import os

    name = errno.errorcode.get(exc.errno or 0)
    text = os.strerror(exc.errno) if exc.errno else str(exc)
    return CallFailed(f"{what}: {text}" + (f" ({name})" if name else ""))
