"""The ``netkit`` command: parse arguments, call the library, render, pick the exit code."""
