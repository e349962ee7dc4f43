"""``python -m crewtrack`` is the ``crewtrack`` command."""

from crewtrack.cli import main

raise SystemExit(main())
