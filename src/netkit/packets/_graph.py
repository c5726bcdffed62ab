"""The merged paths of a trace as a graph (scapy's ``res.graph()``): DOT text, or SVG/PNG
drawn by graphviz's ``dot``.

One node per hop address (shared by every flow through it, so paths merge where they
meet), one per target and port with how it answered, and one ``*`` node per unanswered
(flow, TTL) -- silent hops of different flows are not the same router. A hop where a
flow's probes came back from several addresses (ECMP) fans out to each. Every label is
escaped for DOT (quotes, backslashes; control characters shown as ``\\xHH``); graphviz
escapes them again for SVG's XML.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from netkit.core.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from netkit.packets._trace import Trace

__all__ = ["GRAPH_FORMATS", "graph_dot", "write_graph"]

GRAPH_FORMATS = ("svg", "png", "dot")
# dot lays out a few hundred nodes in well under a second; a minute means something is wrong.
DOT_TIMEOUT = 60.0
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def _quote(text) -> str:
    from netkit.core.text import for_terminal

    safe = for_terminal(str(text))
    return '"' + safe.replace("\\", "\\\\").replace('"', '\\"') + '"'


def graph_dot(result: Trace) -> str:
    """DOT text for a :class:`~netkit.packets._trace.Trace`."""
    lines = ["digraph trace {", '  graph [rankdir=TB, fontname="sans-serif"];',
             '  node [fontname="sans-serif", fontsize=10, shape=ellipse];',
             f"  {_quote('source')} [label={_quote(result.source + ' (this host)')}, shape=box];"]
    nodes = {}
    edges = set()
    for n, flow in enumerate(result.flows):
        color = COLORS[n % len(COLORS)]
        previous = ["source"]
        for hop in flow.hops:
            addresses = hop.addresses
            if addresses:
                current = []
                for address in addresses:
                    final = address == flow.address
                    node = f"{address}:{flow.method}{flow.port}" if final and flow.method != "icmp" else address
                    if final:
                        label = f"{address}\n{flow.method}/{flow.port} {flow.final}" if flow.method != "icmp" \
                            else f"{address}\n{flow.final}"
                        nodes[node] = (label, "box")
                    else:
                        name = flow.names.get(address)
                        nodes.setdefault(node, (f"{address}\n{name}" if name else address, "ellipse"))
                    current.append(node)
            else:
                node = f"*{n}:{hop.ttl}"
                nodes[node] = ("*", "plaintext")
                current = [node]
            for a in previous:
                for b in current:
                    edges.add((a, b, color))
            previous = current
    for node, (label, shape) in nodes.items():
        # for_terminal escapes the newline as \x0a: split first, join with DOT's own \n
        text = "\\n".join(_quote(part)[1:-1] for part in label.split("\n"))
        lines.append(f'  {_quote(node)} [label="{text}", shape={shape}];')
    for a, b, color in sorted(edges):
        lines.append(f'  {_quote(a)} -> {_quote(b)} [color="{color}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph_format(path: str) -> str:
    """``svg``, ``png`` or ``dot`` from the file name; UsageError otherwise."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in GRAPH_FORMATS:
        raise UsageError(f"--graph {path!r}: name the file .svg, .png or .dot")
    return ext


def write_graph(result: Trace, path: str) -> None:
    """Draw the graph into ``path`` whole or not at all (its format from the extension)."""
    from netkit.core.fs import write_whole

    fmt = graph_format(path)
    dot_text = graph_dot(result).encode()
    if fmt == "dot":
        write_whole(path, dot_text)
        return
    dot = shutil.which("dot")
    if dot is None:
        raise UsageError("drawing the graph needs graphviz's dot (Debian: apt install graphviz); "
                         "or write --graph FILE.dot")
    try:
        proc = subprocess.run([dot, f"-T{fmt}"], input=dot_text, capture_output=True, timeout=DOT_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        raise UsageError(f"graphviz's dot took more than {DOT_TIMEOUT:g} s") from None
    if proc.returncode != 0 or not proc.stdout:
        from netkit.core.text import for_terminal

        why = for_terminal(proc.stderr.decode("utf-8", "replace").strip()[:200])
        raise UsageError(f"graphviz's dot failed: {why}")
    write_whole(path, proc.stdout)
