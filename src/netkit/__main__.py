"""``python -m netkit`` is the ``netkit`` command (and starts as it does: bin/netkit)."""

import gc

gc.disable()  # during start-up only: see bin/netkit

from netkit.cli.main import main  # noqa: E402 -- after gc.disable(), on purpose

raise SystemExit(main())
