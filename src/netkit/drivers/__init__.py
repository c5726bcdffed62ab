"""Drivers run a dialogue's actions on real sockets.

``blocking``: plain blocking sockets, for one check from the command line (no asyncio at
import, fast start). ``aio``: asyncio (uvloop when present), for thousands at once. Both
drive the same dialogues and map OS and TLS errors onto :mod:`netkit.core.errors` here,
once.
"""
