"""``python -m imbalanced_contrastive``: see :mod:`imbalanced_contrastive.cli`."""

from imbalanced_contrastive.cli import main

raise SystemExit(main())
