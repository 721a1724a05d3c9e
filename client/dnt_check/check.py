"""Check manifests against an offline snapshot, as the registry's jobs do.

`run` checks the files of one manifest (Parquet parts, WebDataset shards,
CSV/TSV, JSON Lines, with img2dataset's sidecars) in several processes and
writes what a job writes: the reports (matches.csv, .jsonl, .parquet), the
filtered manifest in the input's format and a receipt naming the snapshot's
registry and revision. `filter_table` filters one Arrow table, for running
inside an engine that already splits the data (Dask, Spark).

Matching is the engine's (workers/engine); the match exceptions and opt-ins
in force at the snapshot's revision are applied (an opt-in match removes
nothing); what the registry's settings remove is removed. Rows that could
not be checked in full are reported and left out unless keep_unchecked.
Each process memory-maps the segments once.
Memory per process: the segments' indexes (mapped, shared through the page
cache) plus one chunk of rows (`chunk_rows`) and its report lines.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from workers.engine import manifests as engine_manifests
from workers.engine import reports as engine_reports
from workers.engine.consent import OPT_IN, apply_opt_ins
from workers.engine.exceptions import drop_excepted
from workers.engine.manifests import ManifestRejected
from workers.engine.manifests._common import build_batch, match_columns
from workers.engine.perceptual import Levels, removes_row, tail_models
from workers.engine.progress import Progress
from workers.engine.receipts import file_sha256, manifest_sha256
from workers.engine.reports import (
    UNCHECKED,
    match_line,
    problem_line,
)
from workers.engine.snapshot import Thresholds

from .snapshot import Snapshot, load

PERCEPTUAL_LEVELS = ("verified", "strong", "possible")
CHUNK_ROWS = 50_000
RECEIPT_TYPE = "dnt-offline-check"


class CheckError(Exception):
    """The manifest cannot be checked; the message names the file."""


def _levels(raw: Mapping[str, Any]) -> Levels:
    values = {}
    for f in fields(Levels):
        if f.name not in raw:
            continue
        value = raw[f.name]
        default = f.default
        if value is None:
            values[f.name] = None
        elif isinstance(default, int) and not isinstance(default, bool):
            values[f.name] = int(value)
        else:
            values[f.name] = float(value)
    return Levels(**values)


@dataclass
class Matcher:
    """A snapshot ready to match batches, with its settings."""

    snapshot: Snapshot
    remove_levels: set[str]
    keep_unchecked: bool = False
    thresholds: Thresholds = field(init=False)
    levels: Levels = field(init=False)
    excepted: dict[str, set[tuple[str, str]]] = field(init=False)
    opted_in: dict[str, dict[str, str]] = field(init=False)
    overrides: dict[str, list[int]] = field(init=False)

    def __post_init__(self) -> None:
        matching = self.snapshot.payload["matching"]
        self.thresholds = Thresholds(**matching["thresholds"])
        self.levels = _levels(matching["levels"])
        self.tails = tail_models(matching.get("variant_scheme", ""))
        self.signals = tuple(matching.get("signals", ()))
        excepted: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for item in self.snapshot.payload.get("exceptions") or []:
            excepted[item["target"]].add((item["key_type"], item["key"]))
        self.excepted = dict(excepted)
        offers = self.snapshot.payload.get("opt_ins") or []
        self.opted_in = {item["target"]: item["terms"] for item in offers}
        self.overrides = {item["target"]: item["overrides"] for item in offers}
        self.view = self.snapshot.segment_view()

    @classmethod
    def open(
        cls,
        folder: Path,
        *,
        remove_levels: Iterable[str] | None = None,
        keep_unchecked: bool = False,
        check_files: bool = True,
    ) -> Matcher:
        """`check_files`: hash every segment file against the signed
        snapshot first (the signature is always checked)."""
        snapshot = load(folder, check_files=check_files)
        chosen = (
            set(remove_levels)
            if remove_levels is not None
            else set(snapshot.payload["matching"]["remove_levels"])
        )
        unknown = sorted(chosen - set(PERCEPTUAL_LEVELS))
        if unknown:
            raise CheckError(
                f"remove levels: unknown level {unknown[0]!r}; use "
                + ", ".join(PERCEPTUAL_LEVELS)
            )
        return cls(snapshot, chosen, keep_unchecked)

    def lines(
        self, batch: Any, columns: Mapping[str, str]
    ) -> tuple[list[dict], set[int]]:
        """The report lines of a batch (a row's matches, then what it was not
        checked for) and the rows to remove."""
        found, problems = self.view.match(
            batch,
            self.thresholds,
            levels=self.levels,
            references=None,
            tails=self.tails,
            signals=self.signals,
        )
        if self.excepted:
            found = drop_excepted(batch, found, self.excepted)
        if self.opted_in:
            found = apply_opt_ins(found, self.opted_in, self.overrides)
        removed: set[int] = set()
        lines: list[dict[str, Any]] = []
        for m in found:
            removes = removes_row(m.level, self.remove_levels)
            if removes:
                removed.add(m.row)
            lines.append(match_line(m, batch, removes=removes))
        problems = sorted([*batch.unchecked, *problems], key=lambda p: p.row)
        if not self.keep_unchecked:
            removed.update(p.row for p in problems)
        lines += (
            problem_line(p, batch, columns, removed=not self.keep_unchecked)
            for p in problems
        )
        lines.sort(key=lambda line: (line["index"], line["kind"] == UNCHECKED))
        return lines, removed


def filter_table(
    table: pa.Table,
    snapshot: Path | Matcher,
    *,
    columns: Mapping[str, str] | None = None,
    first_row: int = 0,
) -> tuple[pa.Table, list[dict[str, Any]]]:
    """The rows of `table` to keep, and the report lines of those removed or
    listed (rows numbered from `first_row`).

    `columns` maps logical columns (url, caption, key, sha256, md5, phash,
    pdq) to the table's; by default they are detected by name as for files.
    `snapshot` is a synced snapshot folder or an opened Matcher (reuse one
    per process: opening maps the segments).
    """
    matcher = snapshot if isinstance(snapshot, Matcher) else Matcher.open(snapshot)
    if columns is None:
        columns = match_columns(table.schema.names, None)
    if not columns:
        raise CheckError(
            "no column to check: name one of url, caption, sha256, md5, phash, pdq"
        )
    raw = {role: table.column(name).to_pylist() for role, name in columns.items()}
    batch = build_batch(first_row, table.num_rows, raw, columns, {})
    lines, removed = matcher.lines(batch, columns)
    keep = np.ones(table.num_rows, dtype=bool)
    for row in removed:
        keep[row - first_row] = False
    return table.filter(pa.array(keep)), lines


# -- Whole manifests -----------------------------------------------------------

_MATCHER: Matcher | None = None


def _init(folder: str, remove_levels: list[str], keep_unchecked: bool) -> None:
    global _MATCHER
    # The parent checked every file before starting the pool.
    _MATCHER = Matcher.open(
        Path(folder),
        remove_levels=remove_levels,
        keep_unchecked=keep_unchecked,
        check_files=False,
    )


def _chunk(args: tuple) -> tuple[list[dict], list[int], int]:
    paths, fmt, spec, columns = args
    assert _MATCHER is not None
    lines: list[dict] = []
    removed: set[int] = set()
    rows = 0
    for batch in engine_manifests.read_chunk(paths, fmt, spec, columns):
        found, gone = _MATCHER.lines(batch, columns)
        lines += found
        removed |= gone
        rows += len(batch)
    return lines, sorted(removed), rows


@dataclass
class CheckResult:
    out: Path
    rows: int
    removed: int
    unchecked: int
    counts: dict[str, int]
    files: list[Path]
    receipt: Path
    opt_in: int = 0  # rows offered for AI training on terms (and kept)


def manifest_files(given: Sequence[str | Path]) -> list[Path]:
    files: list[Path] = []
    for raw in given:
        path = Path(raw)
        if path.is_dir():
            found, _ = engine_manifests.folder_files(path)
            if not found:
                raise CheckError(f"{path}: the folder holds no manifest file")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise CheckError(f"{path}: no such file or folder")
    return files


def run(
    given: Sequence[str | Path],
    snapshot_folder: Path,
    out: Path,
    *,
    processes: int = 1,
    remove_levels: Iterable[str] | None = None,
    keep_unchecked: bool = False,
    columns: Mapping[str, str] | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: bool = False,
    opt_in_manifest: bool = False,
) -> CheckResult:
    """Check one manifest (its files, in order) and write the results in
    `out`; with `opt_in_manifest`, also the rows offered for AI training on
    terms alone, in `out`/opt-in."""
    matcher = Matcher.open(
        snapshot_folder, remove_levels=remove_levels, keep_unchecked=keep_unchecked
    )
    files = manifest_files(given)
    try:
        layout = engine_manifests.arrange([f.name for f in files])
        paths = [files[i] for i in layout.parts]
        sidecars = [(files[i], sidecar) for i, sidecar in layout.sidecars]
        formats = [engine_manifests.sniff(p, p.name) for p in paths]
        fmt = formats[0]
        for path, other in zip(paths, formats, strict=True):
            if other != fmt:
                raise CheckError(
                    f"{path.name}: a {other.value} part among {fmt.value} parts"
                )
        for path, sidecar in sidecars:
            engine_manifests.check_sidecar(path, sidecar)
        used = engine_manifests.detect_columns(paths, fmt, dict(columns or {}) or None)
        specs = engine_manifests.plan_chunks(paths, fmt, target_rows=chunk_rows)
    except ManifestRejected as exc:
        raise CheckError(f"{files[0].name}: {exc}") from None
    total = sum(spec.rows for spec in specs)
    started = datetime.now(UTC)
    removed: set[int] = set()
    counts: Counter[str] = Counter()
    unchecked_rows: set[int] = set()
    offered: set[int] = set()
    bar = Progress(lambda text: (sys.stderr.write(text), sys.stderr.flush()), total)
    jobs = [(paths, fmt, spec, used) for spec in specs]
    remove = sorted(matcher.remove_levels)

    def results() -> Iterator[tuple[list[dict], list[int], int]]:
        if processes <= 1:
            global _MATCHER
            _MATCHER = matcher
            yield from map(_chunk, jobs)
            return
        context = multiprocessing.get_context("spawn")
        with context.Pool(
            processes,
            initializer=_init,
            initargs=(str(snapshot_folder), remove, keep_unchecked),
        ) as pool:
            yield from pool.imap(_chunk, jobs)

    def lines() -> Iterator[dict[str, Any]]:
        for found, gone, rows in results():
            for line in found:
                if line["kind"] == UNCHECKED:
                    unchecked_rows.add(line["index"])
                else:
                    counts[line["kind"]] += 1
                    if line["level"] == OPT_IN:
                        offered.add(line["index"])
            removed.update(gone)
            if progress:
                bar.advance(rows)
            yield from found

    places = engine_reports.RowPlaces.from_chunks([p.name for p in paths], specs)
    try:
        reports = engine_reports.write_reports(lines(), out, places)
        if progress:
            bar.finish()
        filtered = engine_manifests.write_filtered(
            paths, fmt, np.array(sorted(removed), dtype=np.int64), out / "filtered"
        )
        rewritten = engine_manifests.write_sidecars(
            fmt, paths, filtered, sidecars, out / "filtered"
        )
        # Offered, nothing removes them, checked in full.
        offered -= removed | unchecked_rows
        opt_in: list[Path] = []
        opt_in_sidecars: list[Path] = []
        if opt_in_manifest:
            part_rows = [0] * len(paths)
            for spec in specs:
                part_rows[spec.part] += spec.rows
            opt_in = engine_manifests.write_kept(
                paths,
                fmt,
                np.array(sorted(offered), dtype=np.int64),
                part_rows,
                out / "opt-in",
            )
            opt_in_sidecars = engine_manifests.write_sidecars(
                fmt, paths, opt_in, sidecars, out / "opt-in"
            )
    except ManifestRejected as exc:
        raise CheckError(f"{paths[0].name}: {exc}") from None
    sha256, size, each = manifest_sha256(paths)
    written = [
        ("report_csv", reports["csv"]),
        ("report_jsonl", reports["jsonl"]),
        ("report_parquet", reports["parquet"]),
        *(("filtered", p) for p in filtered),
        *(("sidecar", p) for p in rewritten),
        *(("opt_in", p) for p in opt_in),
        *(("opt_in_sidecar", p) for p in opt_in_sidecars),
    ]
    snapshot = matcher.snapshot
    receipt = {
        "type": RECEIPT_TYPE,
        "version": 1,
        "note": "written by dnt-check on the curator's machine; not signed by "
        "the registry (the snapshot it names is)",
        "registry": {
            **snapshot.payload["registry"],
            "snapshot_key_id": snapshot.key_id,
            "snapshot_signature": snapshot.document["signature"],
        },
        "descriptor_model": snapshot.payload.get("descriptor_model", ""),
        "matching": {
            **snapshot.payload["matching"],
            "remove_levels": [lv for lv in PERCEPTUAL_LEVELS if lv in remove],
            "keep_unchecked": keep_unchecked,
        },
        "manifest": {
            "name": paths[0].name,
            "format": fmt.value,
            "size": size,
            "sha256": sha256,
            "files": [
                {"name": p.name, "size": n, "sha256": digest}
                for p, (digest, n) in zip(paths, each, strict=True)
            ],
        },
        "columns": dict(sorted(used.items())),
        "rows": {
            "total": total,
            "removed": len(removed),
            "unchecked": len(unchecked_rows),
            "in_filtered": total - len(removed),
            "opt_in": len(offered),
        },
        "matches": dict(sorted(counts.items())),
        "outputs": [
            {"kind": kind, "name": p.name, "size": n_bytes, "sha256": digest}
            for kind, p in written
            for digest, n_bytes in [file_sha256(p)]
        ],
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
    }
    receipt_path = out / "receipt.json"
    receipt_path.write_text(json.dumps(receipt, indent=2, ensure_ascii=False))
    return CheckResult(
        out=out,
        rows=total,
        removed=len(removed),
        unchecked=len(unchecked_rows),
        counts=dict(counts),
        files=[p for _, p in written],
        receipt=receipt_path,
        opt_in=len(offered),
    )
