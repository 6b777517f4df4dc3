"""Package metadata held in exactly one place.

``VERSION`` is the package version (``pyproject.toml`` reads it from here); ``REPOSITORY_URL``
the repository address. The notebooks' Colab badges, their Colab install cell and the book's
launch buttons are generated from, and checked against, these constants (``make notebooks``
rewrites the install cells; the tests fail when a notebook disagrees).
"""

VERSION = "0.5.0"
"""The package version; a release is tagged ``v<VERSION>`` in the repository."""

__version__ = VERSION

REPOSITORY_URL = "https://github.com/imbalanced-contrastive/companion"
"""The public repository of the companion (notebooks, book and library)."""

REPOSITORY_BRANCH = "main"

RELEASE_TAG = f"v{VERSION}"
"""The git tag of this release: what the notebooks' Colab install cell installs."""

INSTALL_SPEC = f"imbalanced-contrastive @ git+{REPOSITORY_URL}@{RELEASE_TAG}"
"""The pip requirement the Colab install cell installs (a fixed release, never a moving branch)."""

SITE_URL = "https://imbalanced-contrastive.github.io/companion/"
"""Where the book is published (GitHub Pages of the repository)."""
