"""Command line: ``python -m imbalanced_contrastive <command>``.

Commands:
    data       where each dataset would be read from (offline first), or why it cannot be
    notebooks  execute the notebooks with papermill into book/_generated
    book       execute the notebooks, then build the Jupyter Book strictly
"""

from __future__ import annotations

import argparse
import sys

from imbalanced_contrastive.profiles import PROFILES


def _cmd_data(args: argparse.Namespace) -> int:
    from imbalanced_contrastive.data.fashion_mnist import locate_fashion_mnist, load_fashion_mnist

    where = locate_fashion_mnist(args.data_dir)
    if where is None:
        try:
            load_fashion_mnist(args.data_dir, download=args.download)
        except FileNotFoundError as err:
            print(err, file=sys.stderr)
            return 1
        where = locate_fashion_mnist(args.data_dir)
    train, test = load_fashion_mnist(args.data_dir)
    print(f"fmnist: {where} ({len(train)} train, {len(test)} test images; checksums verified)")
    return 0


def _cmd_notebooks(args: argparse.Namespace) -> int:
    from imbalanced_contrastive.book import execute_notebooks

    execute_notebooks(args.profile, names=args.only or None)
    return 0


def _cmd_book(args: argparse.Namespace) -> int:
    from imbalanced_contrastive.book import build_book, execute_notebooks

    if not args.skip_notebooks:
        execute_notebooks(args.profile)
    build_book()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m imbalanced_contrastive", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("data", help="check that Fashion-MNIST is available offline")
    p.add_argument("--data-dir", default=None, help="directory tried first")
    p.add_argument("--download", action="store_true", help="download with torchvision if missing")
    p.set_defaults(func=_cmd_data)
    p = sub.add_parser("notebooks", help="execute the notebooks with papermill")
    p.add_argument("--profile", choices=PROFILES, default="quick")
    p.add_argument("--only", nargs="*", help="notebook file names to run (default: all)")
    p.set_defaults(func=_cmd_notebooks)
    p = sub.add_parser("book", help="execute the notebooks and build the book")
    p.add_argument("--profile", choices=PROFILES, default="quick")
    p.add_argument("--skip-notebooks", action="store_true", help="build from the executed notebooks already there")
    p.set_defaults(func=_cmd_book)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
