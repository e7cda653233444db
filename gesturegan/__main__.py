"""``python -m gesturegan`` is the ``gesturegan`` command."""

from gesturegan.cli import main

raise SystemExit(main())
