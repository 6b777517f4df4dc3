"""Command line: ``python -m imbalanced_contrastive <command>``.

Commands:
    train      train and evaluate one method (any paper's recipe); writes a run record
    grid       train a profile's methods x seeds into results/ (resumable; what is committed)
    data       where Fashion-MNIST would be read from (offline first), or how to obtain it

The book is built from a checkout by ``python tools/build_book.py`` (``make book``).
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from imbalanced_contrastive.training.profiles import PROFILES


def parse_setting(text: str) -> tuple[str, object]:
    """``key=value`` with a Python literal value (``2``, ``0.5``, ``[0, 2]``, ``None``, ``'paper'``);
    anything that is not a literal is taken as a string."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set expects key=value; got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key.strip(), value


def _cmd_train(args: argparse.Namespace) -> int:
    from imbalanced_contrastive.training.config import make_config
    from imbalanced_contrastive.training.runner import run_experiment

    overrides = dict(args.set or [])
    for key, option in (("method", "--method"), ("profile", "--profile"), ("dataset", "--dataset")):
        if key in overrides:
            print(f"error: --set {key}=... is not a setting; use {option} {overrides[key]}", file=sys.stderr)
            return 2
    for name in ("seed", "device", "data_dir", "epochs"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.download:
        overrides["download"] = True
    try:
        config = make_config(args.method, args.profile, args.dataset, **overrides)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.out:
        blocked = next((p for p in (Path(args.out), *Path(args.out).parents) if p.exists() and not p.is_dir()), None)
        if blocked is not None:  # checked before training, not after it
            print(f"error: --out {args.out}: {blocked} is a file, not a folder; choose another --out", file=sys.stderr)
            return 2
    try:
        record = run_experiment(config, cache=not args.no_cache, runs_root=args.runs_root)
    except (ValueError, FileNotFoundError) as err:  # a runs folder or data that cannot be used
        print(f"error: {err}", file=sys.stderr)
        return 2
    m = record.metrics
    print(
        f"{config.method} on {config.dataset} ({config.profile}): accuracy {m['accuracy']:.4f}, balanced accuracy "
        f"{m['balanced_accuracy']:.4f}, many/medium/few {m.get('many')}/{m.get('medium')}/{m.get('few')} "
        f"[{record.wall_time_s:.0f} s, cache key {config.cache_key()}]"
    )
    if args.out:
        out = Path(args.out)
        record.save(out)
        print(f"record written to {out / 'record.json'}")
    return 0


def _cmd_grid(args: argparse.Namespace) -> int:
    from imbalanced_contrastive.committed import write_manifest
    from imbalanced_contrastive.grid import GRID_METHODS, GRID_SEEDS, committed_grid, grid_configs, train_grid

    overrides = dict(args.set or [])
    if args.device is not None:
        overrides["device"] = args.device
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    whole = args.methods is None and not args.set
    try:
        if whole:  # the benchmark (its methods and the Balanced Softmax stage-2 runs) and every chapter's runs
            configs = committed_grid(args.profile, args.dataset, **overrides)
            if list(args.seeds) != list(GRID_SEEDS):
                configs = {k: c for k, c in configs.items() if c.seed in args.seeds}
        else:
            configs = grid_configs(args.profile, args.dataset, args.methods or GRID_METHODS, args.seeds, **overrides)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    what = "the benchmark and every chapter's runs" if whole else f"{len(args.methods or GRID_METHODS)} methods"
    print(f"grid: {len(configs)} runs ({what} x {len(args.seeds)} seeds), {args.profile} profile")
    results = Path(args.results) if args.results else None
    try:
        done = train_grid(configs, results=results, runs_root=args.runs_root, allow_dirty=args.allow_dirty)
    except (RuntimeError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if results is None:
        write_manifest()
    trained = sum(v == "trained" for v in done.values())
    print(f"grid: {trained} trained, {len(done) - trained} kept")
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    from imbalanced_contrastive.data.fashion_mnist import load_fashion_mnist, locate_fashion_mnist

    try:
        where = locate_fashion_mnist(args.data_dir)
        if where is None:
            load_fashion_mnist(args.data_dir, download=args.download)
            where = locate_fashion_mnist(args.data_dir)
        train, test = load_fashion_mnist(args.data_dir)
    except (FileNotFoundError, ValueError, OSError) as err:  # missing, corrupt or unreadable files: the
        print(f"error: {err}", file=sys.stderr)  # loader's message names the file
        return 1
    print(f"fmnist: {where} ({len(train)} train, {len(test)} test images; checksums verified)")
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from imbalanced_contrastive.audit import audit
    from imbalanced_contrastive.committed import CHECKOUT_RESULTS

    root = Path(args.results) if args.results else CHECKOUT_RESULTS
    if not root.is_dir():
        print(f"error: --results {root} is not a folder of records", file=sys.stderr)
        return 2
    repository = root.parent if (root.parent / ".git").exists() else None
    problems = audit(root, repository)
    for problem in problems:
        print(problem)
    n = len(list(root.rglob("record.json")))
    looked_up = "their commits looked up in the history" if repository else "no git history here: commits not looked up"
    print(f"audit: {n} records, {len(problems)} problem{'' if len(problems) == 1 else 's'} ({looked_up})")
    return 1 if problems else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m imbalanced_contrastive",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    from imbalanced_contrastive.data.catalogue import DATASETS
    from imbalanced_contrastive.training.config import CONFIG_FIELDS
    from imbalanced_contrastive.training.recipes import METHODS, describe_methods

    p = sub.add_parser(
        "train",
        help="train and evaluate one method",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train one method with a profile's settings; --set overrides any config field or loss parameter.",
        epilog="methods, their recipe family and default loss parameters:\n"
        + describe_methods()
        + "\n\nconfig fields accepted by --set (method, profile and dataset have their own options):\n  "
        + ", ".join(f for f in CONFIG_FIELDS if f not in ("method", "profile", "dataset"))
        + "\n\nexample:\n  python -m imbalanced_contrastive train --method afcl --dataset fmnist --profile quick "
        "--set gamma=2 --set eta=100 --out results/afcl-quick",
    )
    p.add_argument(
        "--method",
        "--recipe",
        dest="method",
        required=True,
        choices=sorted(METHODS),
        metavar="METHOD",
        help="one of: " + ", ".join(METHODS) + " (--recipe is the former spelling)",
    )
    p.add_argument("--dataset", default="fmnist", choices=DATASETS)
    p.add_argument("--profile", choices=PROFILES, default="quick")
    p.add_argument(
        "--set",
        action="append",
        type=parse_setting,
        metavar="KEY=VALUE",
        help="override a config field or loss parameter (repeatable)",
    )
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--device", default=None, help="auto (default: CUDA if available, else the CPU), cpu, cuda, cuda:N")
    p.add_argument("--data-dir", dest="data_dir", default=None, help="dataset folder tried first")
    p.add_argument(
        "--download",
        action="store_true",
        help="download the dataset into the user cache when no local copy is found (needs the internet)",
    )
    p.add_argument("--out", default=None, help="also write the record (record.json, embeddings.npz) here")
    p.add_argument(
        "--runs-root",
        default=None,
        help="the runs folder, shared with the notebooks "
        "(default $IMBALANCED_CONTRASTIVE_RUNS or ~/.cache/imbalanced_contrastive/runs)",
    )
    p.add_argument("--no-cache", action="store_true", help="train even if an identical run is cached")
    p.set_defaults(func=_cmd_train)
    from imbalanced_contrastive.grid import GRID_METHODS, GRID_SEEDS

    p = sub.add_parser(
        "grid",
        help="train a profile's methods x seeds into results/ (resumable)",
        description="Train every method x seed of a profile that has no record in the results folder, and write "
        "their records (record.json, a float16 embeddings.npz) to results/<dataset>/<profile>/<method>/seed<k>/; "
        "finished records are kept and an interrupted run resumes from its checkpoints.",
    )
    p.add_argument("--profile", choices=PROFILES, default="full")
    p.add_argument("--dataset", default="fmnist", choices=DATASETS)
    p.add_argument(
        "--methods",
        nargs="+",
        default=None,
        choices=sorted(METHODS),
        metavar="METHOD",
        help=f"default: everything the profile commits: the benchmark ({', '.join(GRID_METHODS)}, and cl, acl with a "
        "Balanced Softmax stage 2) and every chapter's runs",
    )
    p.add_argument("--seeds", nargs="+", type=int, default=list(GRID_SEEDS), metavar="SEED")
    p.add_argument("--set", action="append", type=parse_setting, metavar="KEY=VALUE", help="override a setting")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--data-dir", dest="data_dir", default=None, help="dataset folder tried first")
    p.add_argument(
        "--results",
        default=None,
        help="the results folder (default $IMBALANCED_CONTRASTIVE_RESULTS or the checkout's results/; "
        "the package's manifest of committed files is rewritten only for the default)",
    )
    p.add_argument("--runs-root", default=None, help="the runs folder of the training (checkpoints, cache)")
    p.add_argument(
        "--allow-dirty", action="store_true", help="train from a source tree with uncommitted changes (not to commit)"
    )
    p.set_defaults(func=_cmd_grid)
    p = sub.add_parser("data", help="check that Fashion-MNIST is available offline")
    p.add_argument("--data-dir", default=None, help="directory tried first")
    p.add_argument("--download", action="store_true", help="download with torchvision if missing")
    p.set_defaults(func=_cmd_data)
    p = sub.add_parser(
        "audit",
        help="recompute every committed record's metrics, trace it to its commit, check the manifest and the README",
    )
    p.add_argument("--results", default=None, help="the results folder (default: the checkout's results/)")
    p.set_defaults(func=_cmd_audit)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
