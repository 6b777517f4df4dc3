"""Cells every notebook shares: the Colab badge, the parameters cell, the Colab install cell.

The repository URL comes from the package (``imbalanced_contrastive._meta.REPOSITORY_URL``), the
one place that holds it.
"""

from imbalanced_contrastive._meta import REPOSITORY_BRANCH, REPOSITORY_URL

REPO = REPOSITORY_URL


def badge(name: str) -> str:
    """The "Open in Colab" badge of ``notebooks/<name>``."""
    colab = REPO.replace("https://github.com", "https://colab.research.google.com/github")
    return (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"({colab}/blob/{REPOSITORY_BRANCH}/notebooks/{name})"
    )


def parameters_cell(body: str) -> tuple:
    """The papermill ``parameters`` cell (``body`` lists the notebook's own parameters)."""
    return ("code", "# Parameters (papermill injects its own values after this cell).\n" + body.strip("\n"), ["parameters"])


def colab_install_cell() -> tuple:
    """In Colab only: install the companion's library from the repository."""
    return ("code", f"""
# In Colab only: install the companion's library from its repository.
import sys
if "google.colab" in sys.modules:
    %pip install -q "imbalanced-contrastive @ git+{REPO}"
""")
