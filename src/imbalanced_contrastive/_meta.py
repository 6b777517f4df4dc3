"""Package metadata held in exactly one place.

``REPOSITORY_URL`` is the single source of the repository address: the book's launch buttons,
the notebooks' Colab badges and their Colab install cell are checked against it by the tests.
"""

from importlib import metadata

REPOSITORY_URL = "https://github.com/imbalanced-contrastive/companion"
"""The public repository of the companion (notebooks, book and library)."""

REPOSITORY_BRANCH = "main"

try:
    __version__ = metadata.version("imbalanced-contrastive")
except metadata.PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.1.0"
