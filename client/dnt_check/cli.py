"""dnt-check: the command line.

    dnt-check sync URL [--dir DIR] [--token TOKEN] [--keys FILE] [--revision N]
    dnt-check run PATH... [--dir DIR] [--out DIR] [--processes N]
                          [--remove-levels LEVELS] [--keep-unchecked]
                          [--opt-in] [--columns JSON]

The token may come from DNT_TOKEN instead of --token (a shell's history then
does not keep it). Exit status: 0 done, 1 the snapshot or manifest cannot be
used (the message says why), 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__
from .check import CheckError, run
from .snapshot import SnapshotError, sync

DEFAULT_DIR = Path("dnt-snapshot")


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dnt-check",
        description="Check dataset manifests against a do-not-train registry "
        "offline, from its signed snapshot.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    s = commands.add_parser("sync", help="download or update the snapshot")
    s.add_argument("url", help="the registry, e.g. https://registry.example.org")
    s.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="snapshot folder")
    s.add_argument("--token", help="an API token of scope snapshot:read (or DNT_TOKEN)")
    s.add_argument("--keys", type=Path, help="the registry's keys file to trust")
    s.add_argument("--revision", type=int, help="a past revision (default: now)")

    r = commands.add_parser("run", help="check manifests against the snapshot")
    r.add_argument(
        "paths", nargs="+", metavar="PATH", help="a manifest's files or folder"
    )
    r.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="snapshot folder")
    r.add_argument("--out", type=Path, help="results folder (default: NAME-check)")
    r.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    r.add_argument(
        "--remove-levels",
        help="perceptual levels that remove a row, comma-separated from "
        "verified, strong, possible (default: the registry's)",
    )
    r.add_argument("--keep-unchecked", action="store_true")
    r.add_argument(
        "--opt-in",
        action="store_true",
        help="also write OUT/opt-in/: the rows offered for AI training on "
        "terms, alone (the report lists the terms)",
    )
    r.add_argument("--columns", help='e.g. \'{"url": "URL"}\'')
    args = parser.parse_args(argv)

    try:
        if args.command == "sync":
            result = sync(
                args.url,
                args.dir,
                token=args.token or os.environ.get("DNT_TOKEN"),
                keys_file=args.keys,
                revision=args.revision,
                say=_say,
            )
            snap = result.snapshot
            print(
                f"Registry {snap.registry} at revision {snap.revision}: "
                f"{len(result.downloaded)} segment(s) downloaded "
                f"({result.bytes:,} bytes), {len(result.reused)} already held, "
                f"{len(result.removed)} removed; signed by key {snap.key_id}."
            )
            return 0
        columns = json.loads(args.columns) if args.columns else None
        if columns is not None and not isinstance(columns, dict):
            parser.error('--columns must be a JSON object, e.g. {"url": "URL"}')
        levels = (
            [lv.strip() for lv in args.remove_levels.split(",") if lv.strip()]
            if args.remove_levels is not None
            else None
        )
        first = Path(args.paths[0])
        out = args.out or Path(f"{first.stem or first.name}-check")
        result = run(
            args.paths,
            args.dir,
            out,
            processes=max(1, args.processes),
            remove_levels=levels,
            keep_unchecked=args.keep_unchecked,
            columns=columns,
            progress=True,
            opt_in_manifest=args.opt_in,
        )
        summary = ", ".join(f"{k} {n:,}" for k, n in sorted(result.counts.items()))
        print(
            f"{result.rows:,} rows checked, {result.removed:,} to remove"
            + (f" ({summary})" if summary else "")
            + (
                f"; {result.unchecked:,} not checked in full"
                if result.unchecked
                else ""
            )
            + (
                f"; {result.opt_in:,} offered for AI training on terms"
                if result.opt_in
                else ""
            )
            + "."
        )
        for path in [*result.files, result.receipt]:
            print(f"  {path}")
        return 0
    except (SnapshotError, CheckError) as exc:
        _say(f"dnt-check: {exc}")
        return 1
    except json.JSONDecodeError as exc:
        _say(f"dnt-check: --columns is not JSON: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
