"""``python -m citu.cli``: the same as the ``citu`` console script."""

from citu.cli import main

raise SystemExit(main())
