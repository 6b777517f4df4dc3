from common import badge, colab_install_cell, parameters_cell

NAME = "06_benchmark.ipynb"

CELLS = [
    ("md", f"""
# The benchmark no paper has

{badge(NAME)}

Each paper compares with its own baselines, on its own data and schedule. Here every method of the
three papers and the classic baselines run on **the same data, the same budget and the same
seeds**: imbalanced Fashion-MNIST (step profile, the ACL paper's setting) with the `quick`
schedule. Numbers are mean ± standard deviation over seeds.

Runtime: about eleven minutes in the `quick` profile on a 2-core CPU (measured: 651 s; runs shared with the other
chapters are loaded from the cache).
"""),
    parameters_cell("""
profile = "quick"            # smoke | quick | paper
dataset = "fmnist"
data_dir = None
methods = ["ce", "focal", "balanced_softmax", "supcon", "cl", "fcl", "acl", "afcl", "bcl", "rcl", "rescom"]
seeds = [0, 1, 2]
epochs = None
device = "auto"
output_dir = "outputs"
"""),
    colab_install_cell(),
    ("code", """
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from imbalanced_contrastive.profiles import check_profile
from imbalanced_contrastive.results_table import markdown_table, summarize, write_tables
from imbalanced_contrastive.training.experiment import make_config, overrides_from, run_all
from imbalanced_contrastive.viz import plot_benchmark

check_profile(profile)
if len(seeds) < 1:
    raise ValueError("seeds must list at least one seed (three or more for a standard deviation)")
common = overrides_from(epochs=epochs, device=device, data_dir=data_dir)
configs = {f"{m} seed {s}": make_config(m, profile, dataset, seed=s, **common) for m in methods for s in seeds}
runs = Path(output_dir) / "runs"
figures = Path(output_dir) / "figures" / "benchmark"
figures.mkdir(parents=True, exist_ok=True)
print(f"{len(configs)} runs ({len(methods)} methods x {len(seeds)} seeds)")
"""),
    ("code", """
records = run_all(configs, runs_root=runs)
rows = summarize(records.values(), methods_order=methods)
write_tables(rows, Path(output_dir), stem="benchmark")
pd.DataFrame([{"method": r["method"], "seeds": len(r["seeds"]),
               **{k: f"{100 * r[k + '_mean']:.1f} ± {100 * (r[k + '_std'] or 0):.1f}" if r[k + "_mean"] is not None else "–"
                  for k in ("accuracy", "balanced_accuracy", "many", "medium", "few")}} for r in rows]).set_index("method")
"""),
    ("code", """
fig = plot_benchmark(rows)
fig.savefig(figures / "benchmark.png", dpi=120, bbox_inches="tight")
plt.show()
"""),
    ("md", """
## Reading the benchmark

* *many* / *medium* / *few* average the per-class recall over the classes with many (majority) and
  few (minority) training images; on this step profile the minority classes are the four tops,
  the hardest classes of Fashion-MNIST.
* Differences smaller than about two standard deviations are not evidence of anything.
* These are CPU-sized runs (a narrow CNN, a few epochs); rankings can change with the `paper`
  profile's schedules. The table of all runs, with the papers' reported numbers where they exist,
  is in the Results chapter.

**Exercise.** Which recipe family helps the *few* group most here: re-weighting the loss (focal,
Balanced Softmax), contrastive pre-training (SupCon/CL/ACL/AFCL), or joint training with a
rebalanced contrastive branch (BCL/RCL/ResCom)?

```{admonition} Solution
:class: dropdown
Read the `few` column: on the quick profile the prior-corrected methods (Balanced Softmax, and
BCL/RCL/ResCom, which all add log-priors to their classifier) usually lead on the *few* group,
while plain two-stage contrastive learning with a cross-entropy classifier inherits the
classifier's bias towards the majority classes. Check it against your own table.
```
"""),
]
