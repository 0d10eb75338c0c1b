"""``python -m designer [PROJECT]``: open NN Designer on PROJECT (default: the seed project)."""

from __future__ import annotations

import argparse

from designer.app import main


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m designer", description=__doc__)
    parser.add_argument("project", nargs="?", help="a .json or .nnd project file")
    args = parser.parse_args(argv)
    return main(args.project)


if __name__ == "__main__":
    raise SystemExit(cli())
