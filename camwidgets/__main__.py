"""``python -m camwidgets``: see :mod:`camwidgets.cli`."""

from .cli import main

raise SystemExit(main())
