from common import badge, colab_install_cell, parameters_cell

NAME = "03_acl_isic.ipynb"

CELLS = [
    ("md", f"""
# ACL and AFCL on skin lesions: ISIC 2018 and DermaMNIST

{badge(NAME)}

The ACL paper's second experiment {{cite}}`vito2022asymmetric` uses ISIC 2018 Task 3 (HAM10000):
10,015 dermoscopic images in 7 classes, naturally imbalanced (NV alone has 6,705 images, DF 115).
This notebook runs the same two-stage comparison **where the data are present**; the companion
cannot download them for you on an offline machine.

```{{admonition}} Getting the data
:class: tip
* **ISIC 2018 Task 3**: download "Training Data", "Training Ground Truth" (and the Validation
  pair) from the ISIC 2018 challenge site, extract them into one folder and pass it as `data_dir`
  with `dataset = "isic2018"`. The folder must hold `ISIC2018_Task3_Training_GroundTruth.csv` and
  `ISIC2018_Task3_Training_Input/`.
* **DermaMNIST** (the same images at 28x28, MedMNIST v2): in Colab or anywhere with internet,
  `load_dermamnist(download=True)` fetches `dermamnist.npz` and checks its MD5; or put the file in
  a folder and pass it as `data_dir` with `dataset = "dermamnist"`.
```

The paper's ISIC protocol (binary or 7-class, image size, splits) was not recoverable; we use all
7 classes, the official validation split as the held-out set, and images resized to 64x64.
"""),
    parameters_cell("""
profile = "quick"            # smoke | quick | paper
dataset = "isic2018"         # "isic2018" or "dermamnist"
data_dir = None              # folder with the extracted ISIC 2018 archives / dermamnist.npz
losses = ["cl", "fcl", "acl", "afcl"]
gamma = 2.0
eta = 100.0
epochs = None
seed = 0
device = "auto"
output_dir = "outputs"
"""),
    colab_install_cell(),
    ("code", """
from pathlib import Path

import matplotlib.pyplot as plt

from imbalanced_contrastive.data.registry import load_source
from imbalanced_contrastive.profiles import check_profile
from imbalanced_contrastive.results_table import records_frame
from imbalanced_contrastive.training.experiment import make_config, overrides_from, run_all
from imbalanced_contrastive.viz import plot_per_class_accuracy, plot_umap_grid

check_profile(profile)
if dataset not in ("isic2018", "dermamnist"):
    raise ValueError(f"dataset must be 'isic2018' or 'dermamnist'; got {dataset!r}")
common = overrides_from(epochs=epochs, seed=seed, device=device, data_dir=data_dir)
loss_settings = {"cl": {}, "fcl": {"gamma": gamma}, "acl": {"eta": eta}, "afcl": {"gamma": gamma, "eta": eta}}
configs = {name.upper(): make_config(name, profile, dataset, **loss_settings.get(name, {}), **common) for name in losses}
runs = Path(output_dir) / "runs"
figures = Path(output_dir) / "figures" / "acl_isic"
try:
    train, test = load_source(dataset, data_dir, image_size=configs[losses[0].upper()].image_size)
    available = True
    print(f"{dataset}: {len(train)} training and {len(test)} held-out images; counts {train.class_counts().tolist()}")
except FileNotFoundError as err:
    available = False
    print(f"{dataset} is not available here, so this notebook trains nothing.\\n\\n{err}")
"""),
    ("code", """
if available:
    records = run_all(configs, runs_root=runs)
    figures.mkdir(parents=True, exist_ok=True)
    display(records_frame(records))
"""),
    ("code", """
if available:
    fig = plot_umap_grid(records, seed=seed)
    fig.savefig(figures / "umap.png", dpi=120, bbox_inches="tight")
    plt.show()
    fig = plot_per_class_accuracy(records)
    fig.savefig(figures / "per_class.png", dpi=120, bbox_inches="tight")
    plt.show()
"""),
    ("md", """
## Summary

On ISIC the imbalance is natural: the *few* group (DF, VASC, AKIEC) is where the losses differ.
Report both accuracies: a model predicting NV everywhere scores 67 % accuracy but only 14 %
balanced accuracy.

**Exercise.** Why is balanced accuracy the more honest number on ISIC?

```{admonition} Solution
:class: dropdown
The held-out set is imbalanced like the training set, so plain accuracy rewards predicting the
majority class; balanced accuracy (the mean per-class recall) counts every lesion type equally.
```
"""),
]
