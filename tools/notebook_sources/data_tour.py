from common import badge, colab_install_cell, parameters_cell

NAME = "00_data_tour.ipynb"

CELLS = [
    ("md", f"""
# A tour of the data: imbalanced Fashion-MNIST

{badge(NAME)}

Every experiment of this companion starts from a *dataset*, an *imbalance profile* and a split of
the classes into **many**, **medium** and **few** groups by their number of training samples.
This notebook loads real Fashion-MNIST (offline: from the Debian package, a local folder or the
cache), makes it imbalanced the way the ACL paper does (a *step* profile: a few minority classes
keep only a fraction of their images), and shows what the model will see.

Runtime: a few seconds in every profile.
"""),
    parameters_cell("""
profile = "quick"            # smoke | quick | paper
dataset = "fmnist"
data_dir = None              # a folder with the four Fashion-MNIST .gz files, or None
imbalance = "step"           # none | step | long_tail
ratio = None                 # n_majority over n_minority; None: the profile's value
minority_classes = None      # None: the profile's, [0, 2, 4, 6]
seed = 0
output_dir = "outputs"
"""),
    colab_install_cell(),
    ("code", """
from pathlib import Path

import matplotlib.pyplot as plt

from imbalanced_contrastive.profiles import check_profile
from imbalanced_contrastive.training.experiment import make_config, overrides_from, splits_for
from imbalanced_contrastive.viz import plot_class_counts, plot_sample_grid

check_profile(profile)
# the data every training chapter of this profile uses (the profile's subset sizes and groups)
config = make_config("ce", profile, dataset, **overrides_from(data_dir=data_dir, imbalance=imbalance, ratio=ratio,
                                                             minority_classes=minority_classes, seed=seed))
splits = splits_for(config)
figures = Path(output_dir) / "figures" / "data_tour"
figures.mkdir(parents=True, exist_ok=True)
print(f"{len(splits.train)} training and {len(splits.test)} test images, {splits.num_classes} classes")
print("training counts:", splits.description["train_counts"])
print("groups:", splits.groups.as_dict())
"""),
    ("md", """
## What the images look like

One row per class. The minority classes of the step profile are the tops (T-shirt, pullover,
coat, shirt): visually the most confusable classes of Fashion-MNIST, so imbalance hurts exactly
where the task is hardest.
"""),
    ("code", """
fig = plot_sample_grid(splits.train, per_class=8, seed=seed)
fig.savefig(figures / "sample_grid.png", dpi=120, bbox_inches="tight")
plt.show()
"""),
    ("md", """
## How imbalanced the training set is

Bars are coloured by group. The test set stays balanced, as in the papers, so *balanced accuracy*
(the mean of the per-class recalls) tells how well the minority classes are recognised.
"""),
    ("code", """
fig = plot_class_counts(splits)
fig.savefig(figures / "class_counts.png", dpi=120, bbox_inches="tight")
plt.show()
"""),
    ("md", """
## Summary

* The step profile keeps every image of the majority classes and `1/ratio` of the largest class
  count for each minority class.
* The classes fall into many / medium / few groups by training count; metrics are reported per
  group throughout the book.

**Exercise.** Re-run with `imbalance="long_tail"`, `ratio=100` and `minority_classes=[]` (the CIFAR-LT protocol). How
many classes end up in each group?
"""),
]
