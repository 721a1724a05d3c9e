"""How a set of files makes one manifest: which are its parts, in which order,
and which are img2dataset's sidecars that describe a part.

Curators' datasets come as folders: a LAION release is a folder of Parquet
parts (`part-00000-….snappy.parquet` …), img2dataset writes per shard a
`00000.tar` (or `00000.parquet` with `--output_format parquet`), and beside
it `00000_stats.json` and, for tar shards, `00000.parquet` with the metadata
of every sample. `arrange` sorts the names into parts and sidecars by these
rules, from the names alone (the caller then sniffs the parts' content):

- `X_stats.json` is the statistics sidecar of the part whose name without
  its extension is X; without such a part it is refused;
- `X.parquet` beside a tar shard `X.tar` is that shard's metadata sidecar;
- every other file is a part; parts keep the order they were given in
  (`folder_files` gives a folder's files sorted by name), and must have
  distinct names, since the filtered manifest keeps them.

`write_sidecars` writes a sidecar as it belongs beside its filtered part: the
metadata Parquet keeps the rows of the samples the filtered shard kept (rows
of failed downloads name URLs that no check looked at, so they are left out
too: nothing unchecked is passed on), and the statistics count what the
filtered part holds (from its `status` column where there is one), with
`filtered` saying how many rows were taken out.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..types import ManifestFormat
from . import _parquet, _tar
from ._common import ManifestRejected

SIDECAR_PARQUET = "parquet"  # img2dataset's NNNNN.parquet beside NNNNN.tar
SIDECAR_STATS = "stats"  # img2dataset's NNNNN_stats.json
SIDECAR_KINDS = (SIDECAR_PARQUET, SIDECAR_STATS)
STATS_SUFFIX = "_stats.json"
MAX_STATS_BYTES = 1 << 20
# Files a folder (or ZIP) may hold beside a manifest that are no part of it:
# Spark's and Hadoop's markers and checksums, hidden files, macOS resource forks.
_IGNORED_NAMES = frozenset({"_SUCCESS", "_committed", "_started", ".DS_Store"})
_IGNORED_SUFFIXES = (".crc",)


@dataclass(frozen=True)
class Sidecar:
    """A file that describes part `part` (an index into Layout.parts)."""

    part: int
    kind: str  # SIDECAR_PARQUET or SIDECAR_STATS
    name: str


@dataclass(frozen=True)
class Layout:
    """`parts`: indexes of the given names that are manifest parts, in order;
    `sidecars`: (index of the given name, what it describes)."""

    parts: list[int]
    sidecars: list[tuple[int, Sidecar]]


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else name


def arrange(names: Sequence[str]) -> Layout:
    """Sort file names into manifest parts and img2dataset sidecars.

    Raises ManifestRejected naming the file for two files of one name and for a
    statistics file without its part.
    """
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ManifestRejected(
                f"{name}: two files have this name; the parts of a manifest need "
                "distinct names (the filtered manifest keeps them)",
                field=name,
            )
        seen.add(name)
    lower = [n.lower() for n in names]
    tars = {_stem(n): i for i, n in enumerate(names) if lower[i].endswith(".tar")}
    kinds: dict[int, tuple[str, str]] = {}  # index -> (kind, stem of its part)
    for i, name in enumerate(names):
        if lower[i].endswith(STATS_SUFFIX):
            kinds[i] = (SIDECAR_STATS, name[: -len(STATS_SUFFIX)])
        elif lower[i].endswith(".parquet") and _stem(name) in tars:
            kinds[i] = (SIDECAR_PARQUET, _stem(name))
    parts = [i for i in range(len(names)) if i not in kinds]
    by_stem = {_stem(names[i]): k for k, i in enumerate(parts)}
    sidecars = []
    for i, (kind, stem) in sorted(kinds.items()):
        if stem not in by_stem:
            raise ManifestRejected(
                f"{names[i]}: img2dataset statistics without their shard; upload "
                f"{stem}.tar or {stem}.parquet with it, or leave it out",
                field=names[i],
            )
        sidecars.append((i, Sidecar(by_stem[stem], kind, names[i])))
    if not parts:
        raise ManifestRejected("no manifest file: only img2dataset statistics")
    return Layout(parts, sidecars)


def ignored(name: str) -> bool:
    """Whether a file found in a folder or ZIP is no part of any manifest."""
    base = PurePosixPath(name).name
    return (
        not base
        or base.startswith(".")
        or base in _IGNORED_NAMES
        or base.endswith(_IGNORED_SUFFIXES)
        or name.startswith("__MACOSX/")
    )


def folder_files(folder: Path) -> tuple[list[Path], list[str]]:
    """A folder's files sorted by name, and the names of those `ignored`.

    Only the folder itself is read, not its subfolders (a dataset's parts sit
    side by side).
    """
    files, skipped = [], []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if not path.is_file():
            continue
        (skipped if ignored(path.name) else files).append(path)
    return files, [p.name for p in skipped]


def check_sidecar(path: Path, sidecar: Sidecar) -> None:
    """Raise ManifestRejected, naming the file, if the sidecar cannot be used."""
    if sidecar.kind == SIDECAR_STATS:
        _read_stats(path, sidecar.name)
        return
    names = _parquet.open_file(path, f"{sidecar.name}: ").schema_arrow.names
    if "key" not in names:
        raise ManifestRejected(
            f"{sidecar.name}: the shard's metadata has no key column, so its rows "
            "cannot be matched to the shard's samples",
            field=sidecar.name,
        )


def _read_stats(path: Path, name: str) -> dict[str, Any]:
    if path.stat().st_size > MAX_STATS_BYTES:
        raise ManifestRejected(
            f"{name}: over {MAX_STATS_BYTES:,} bytes; img2dataset statistics are "
            "a small JSON object",
            field=name,
        )
    try:
        value = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict):
        raise ManifestRejected(
            f"{name}: not img2dataset statistics (a JSON object)", field=name
        )
    return value


def write_sidecars(
    fmt: ManifestFormat,
    parts: Sequence[Path],
    filtered: Sequence[Path],
    sidecars: Sequence[tuple[Path, Sidecar]],
    out_dir: Path,
) -> list[Path]:
    """Write each sidecar, as it fits its filtered part, into `out_dir`,
    under its input file's name (as write_filtered writes parts).

    `parts` and `filtered` are the manifest's parts before and after filtering,
    in order; metadata sidecars are written before statistics, which count
    from them. Returns the written files in the order of `sidecars`.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[int, Path] = {}
    metadata: dict[int, Path] = {}  # part -> its filtered metadata Parquet
    kept_samples: dict[int, int] = {}  # part -> samples its filtered shard holds
    order = sorted(range(len(sidecars)), key=lambda k: sidecars[k][1].kind != "parquet")
    for k in order:
        path, sidecar = sidecars[k]
        out = out_dir / path.name  # as write_filtered names a part
        if sidecar.kind == SIDECAR_PARQUET:
            kept = set(_tar_keys(filtered[sidecar.part], sidecar.name))
            kept_samples[sidecar.part] = len(kept)
            _parquet.write_where(
                path,
                out,
                lambda table, kept=kept: pa.array(
                    [key in kept for key in table.column("key").to_pylist()]
                ),
                f"{sidecar.name}: ",
            )
            metadata[sidecar.part] = out
        else:
            stats = _read_stats(path, sidecar.name)
            before = _rows(fmt, parts[sidecar.part])
            if fmt == ManifestFormat.PARQUET:
                described = filtered[sidecar.part]
            else:
                described = metadata.get(sidecar.part)
            after = kept_samples.get(sidecar.part)
            if after is None:
                after = _rows(fmt, filtered[sidecar.part])
            out.write_text(
                json.dumps(_restated(stats, before, after, described), indent=4),
                encoding="utf-8",
            )
        written[k] = out
    return [written[k] for k in range(len(sidecars))]


def _tar_keys(path: Path, where: str) -> list[str]:
    return [sample.key for sample in _tar.samples(path, f"{where}: ")]


def _rows(fmt: ManifestFormat, path: Path) -> int:
    if fmt == ManifestFormat.PARQUET:
        return int(_parquet.open_file(path).metadata.num_rows)
    if fmt == ManifestFormat.WEBDATASET:
        return _tar.count(path, "")
    raise ValueError(
        f"img2dataset statistics describe tar or Parquet shards, not {fmt}"
    )


def _restated(
    stats: dict[str, Any], before: int, after: int, described: Path | None
) -> dict[str, Any]:
    """img2dataset's counts for what the filtered shard holds."""
    out = dict(stats)
    removed = before - after
    status = None
    if described is not None:
        pf = _parquet.open_file(described)
        if "status" in pf.schema_arrow.names:
            status = Counter(
                str(s)
                for s in pq.read_table(described, columns=["status"])
                .column("status")
                .to_pylist()
            )
    if status is not None:
        total = sum(status.values())
        counts = {
            "count": total,
            "successes": status.get("success", 0),
            "failed_to_download": status.get("failed_to_download", 0),
            "failed_to_resize": status.get("failed_to_resize", 0),
        }
        out.update({k: v for k, v in counts.items() if k in stats})
        if "status_dict" in stats:
            out["status_dict"] = dict(sorted(status.items()))
    else:
        for name in ("count", "successes"):
            if isinstance(stats.get(name), int):
                out[name] = max(stats[name] - removed, 0)
        statuses = stats.get("status_dict")
        if isinstance(statuses, dict) and isinstance(statuses.get("success"), int):
            out["status_dict"] = {
                **statuses,
                "success": max(statuses["success"] - removed, 0),
            }
    out["filtered"] = {"rows_before": before, "rows_removed": removed}
    return out
