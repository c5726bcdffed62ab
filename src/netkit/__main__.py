"""``python -m netkit`` is the ``netkit`` command."""

from netkit.cli.main import main

raise SystemExit(main())
