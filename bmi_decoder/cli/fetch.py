"""``bmi-decoder fetch``: download registry data sets, resumable and MD5-verified."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from bmi_decoder.registry import DatasetEntry, default_download_root, default_registry_path, load_registry
from snn_core.errors import InputError
from snn_core.outputs import check_output

DESCRIPTION = """\
Download data files listed in the registry (datasets/registry.toml): the O'Doherty et al.
reaching sessions (Zenodo 583331, among them the six NeuroBench sessions) and the DVS archives.
Each file is downloaded to ROOT/<file>.part with a progress bar; an interrupted download resumes
from where it stopped (HTTP Range request), and only a file whose MD5 matches the registry is
renamed to its final name. A file already present with the right MD5 is skipped."""

EPILOG = """\
exit status: 0 all files present and verified; 2 bad input (unknown name, MD5 mismatch, a URL
the server refuses); 1 network failure (no connection, server error, repeated cuts): the bytes
received are kept and running the same command again resumes.

examples:
  bmi-decoder fetch --list
  bmi-decoder fetch indy_20160630_01 loco_20170210_03 --root /data/reaching
  bmi-decoder fetch indy_20160622_01 --base-url https://mirror.example.org/zenodo583331"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fetch",
        help="download registry data sets (resumable, MD5-verified)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="registry names, e.g. indy_20160630_01 (see --list)")
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        metavar="DIR",
        help="download folder (default: the repository's datasets/ folder, or ./datasets outside a checkout)",
    )
    parser.add_argument(
        "--base-url",
        default=None,
        metavar="URL",
        help="mirror folder that serves each file under its own name: URL/<file name>",
    )
    parser.add_argument("--list", action="store_true", help="list the registry's data sets and exit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bmi_decoder.fetch import DownloadError, fetch

    registry = load_registry()
    if args.list:
        _print_registry(registry.values())
        return 0
    if not args.names:
        raise InputError("command line", "NAME", f"at least one data set name, or --list (known: {', '.join(registry)})")
    unknown = [name for name in args.names if name not in registry]
    if unknown:
        raise InputError(default_registry_path().resolve(), unknown[0], f"a known data set name: {', '.join(registry)}")
    root = default_download_root() if args.root is None else args.root
    check_output(root, "--root", folder=True)
    for name in dict.fromkeys(args.names):
        try:
            path = fetch(registry[name], root, base_url=args.base_url)
        except DownloadError as err:
            print(f"bmi-decoder fetch: network error: {err}", file=sys.stderr)
            return 1
        print(f"{name}: {path}")
    return 0


def _print_registry(entries: Iterable[DatasetEntry]) -> None:
    for entry in entries:
        size = "" if entry.size_mb is None else f"{entry.size_mb:,.0f} MB"
        recording = "" if entry.monkey is None else f"{entry.monkey}, {entry.channels} ch"
        print(f"{entry.name:<20} {entry.kind:<17} {recording:<12} {size:>8}  {entry.url}")
