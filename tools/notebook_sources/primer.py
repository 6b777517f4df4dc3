from common import badge, colab_install_cell, parameters_cell

NAME = "01_primer.ipynb"

CELLS = [
    ("md", f"""
# A primer: supervised contrastive learning and class imbalance

{badge(NAME)}

Contrastive learning trains an encoder so that images of the same class land close together on a
sphere and images of different classes land far apart. This chapter shows, on real
Fashion-MNIST {{cite}}`xiao2017fashion`, how *positives* and *negatives* enter the supervised
contrastive loss (SupCon, {{cite}}`khosla2020supcon`), what its *temperature* does, and why class
imbalance hurts it. It trains a tiny model that runs on a CPU (in Colab too) in well under five
minutes.

Runtime: about a minute in the `quick` profile on a laptop CPU.
"""),
    parameters_cell("""
profile = "quick"            # smoke | quick | paper
dataset = "fmnist"
data_dir = None
temperature = 0.1
epochs = None                # None: the profile's value
seed = 0
device = "auto"
output_dir = "outputs"
"""),
    colab_install_cell(),
    ("code", """
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from imbalanced_contrastive.losses import SupConLoss
from imbalanced_contrastive.profiles import check_profile
from imbalanced_contrastive.results_table import records_frame
from imbalanced_contrastive.training.experiment import make_config, overrides_from, run_all, splits_for
from imbalanced_contrastive.viz import plot_pair_masks, plot_temperature, plot_umap_grid

check_profile(profile)
settings = overrides_from(epochs=epochs, device=device, data_dir=data_dir, seed=seed)
configs = {
    "cross-entropy": make_config("ce", profile, dataset, **settings),
    "SupCon (two-stage)": make_config("supcon", profile, dataset, temperature=temperature, **settings),
}
runs = Path(output_dir) / "runs"
figures = Path(output_dir) / "figures" / "primer"
figures.mkdir(parents=True, exist_ok=True)
splits = splits_for(configs["cross-entropy"])
print("training counts per class:", splits.description["train_counts"])
"""),
    ("md", r"""
## Positives and negatives

Take a batch of $B$ images, make two augmented *views* of each, and embed all $N = 2B$ views as
unit vectors $z_i$. For an anchor $i$, its **positives** $P(i)$ are the other views with the same
label (its own second view included), its **negatives** $N(i)$ the views with another label. SupCon
is a softmax over the anchor's contrast set $A(i) = \{j \ne i\}$:

$$\ell_i = -\frac{1}{|P(i)|}\sum_{p\in P(i)} \log \frac{\exp(z_i\cdot z_p/\tau)}{\sum_{a\ne i}\exp(z_i\cdot z_a/\tau)}.$$

The figure shows the masks of a small imbalanced batch: the majority class supplies most
positives *and* most negatives, so it dominates the gradient; a minority anchor may have its own
second view as its only positive.
"""),
    ("code", """
rng = np.random.default_rng(seed)
batch_labels = torch.from_numpy(rng.choice(splits.train.labels.numpy(), size=12, replace=False))
fig = plot_pair_masks(batch_labels, n_views=2, classes=splits.classes)
fig.savefig(figures / "pair_masks.png", dpi=120, bbox_inches="tight")
plt.show()
"""),
    ("md", r"""
## What the temperature does

$\tau$ sharpens or flattens the softmax. With a small $\tau$ the anchor's probability mass (and so
the gradient) concentrates on the few most similar contrast samples, the *hard* ones; with a large
$\tau$ every sample counts about the same. Below: for one anchor, the softmax weight of each other
sample, sorted by similarity.
"""),
    ("code", """
fig = plot_temperature(similarities=np.sort(rng.uniform(-1, 1, 64))[::-1], temperatures=(0.05, 0.1, 0.5, 1.0))
fig.savefig(figures / "temperature.png", dpi=120, bbox_inches="tight")
plt.show()
"""),
    ("md", """
## Train it

Two runs on the same imbalanced data: plain cross-entropy, and SupCon in the two-stage protocol
(stage 1: encoder + projection head with SupCon; stage 2: a linear classifier on the frozen
encoder). Runs are cached: re-running the notebook loads them.
"""),
    ("code", """
records = run_all(configs, runs_root=runs)
records_frame(records)
"""),
    ("md", """
## The embedding, seen through UMAP

A 2-D UMAP {cite}`mcinnes2018umap` of the encoder features of test images, coloured by class (top) and by many / medium /
few group (bottom). On CPU-sized runs this is illustrative only; look at how tightly each class
clusters and where the minority classes end up.
"""),
    ("code", """
fig = plot_umap_grid(records, seed=seed)
fig.savefig(figures / "umap.png", dpi=120, bbox_inches="tight")
plt.show()
"""),
    ("md", """
## Summary

* SupCon pulls an anchor towards *all* its same-class views and pushes it from all others, through
  one softmax whose sharpness is set by the temperature.
* Under imbalance, majority classes supply most pairs: the losses of the next chapters re-weight
  this (ACL's asymmetric negative term, BCL's class averaging, ResCom's class-balanced queue).

**Exercise.** Re-run with `temperature = 0.5`. Does the minority-class accuracy go up or down?

```{admonition} Solution
:class: dropdown
A larger temperature spreads the softmax over all negatives, so the few hard (confusable)
negatives that separate the similar tops (T-shirt, shirt, pullover, coat) get a smaller share of
the gradient; a smaller one concentrates on them but can also over-fit them. Which effect wins on
these minority classes is an empirical question: compare the `few` column of the two runs, and
repeat with other seeds before concluding (the companion has not measured it for you).
```
"""),
]
