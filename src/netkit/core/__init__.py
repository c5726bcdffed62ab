"""Core values shared by every feature: statuses, errors, targets, ranges, perfdata.

Modules here import nothing heavier than the interpreter already has loaded at start-up
(no ``re``, ``enum``, ``dataclasses``, ``socket``): they sit on the fast path of a single
``netkit check``.
"""
