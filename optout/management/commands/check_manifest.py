"""manage.py check_manifest PATH [PATH ...]: match a manifest locally, in-process.

PATH is a file, a folder (its files, sorted by name: a LAION folder of Parquet
parts, img2dataset's output with its sidecars) or a glob (`'parts/*.parquet'`,
quoted so the command expands it); several make one manifest, in order.

For curators who run the registry themselves: the whole job (sniff, detect
columns, plan chunks, match every row against the current registry revision,
write the reports, the filtered manifest and the receipt) runs in this process,
without Celery and without storing anything in the database. It prints the
column each signal is read from and those it leaves unread; rows that could
not be checked in full are reported and left out of the filtered manifest
unless --keep-unchecked. The registry
index is read as the workers read it: the published segments under
SEGMENT_STORE_URL, cached in SEGMENT_CACHE_DIR.
"""

from __future__ import annotations

import glob
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from core.errors import ValidationFailed
from disputes.selectors import match_exceptions_filter
from optout.references import reference_features
from optout.selectors import (
    default_levels,
    default_tails,
    default_thresholds,
    image_work_ids,
)
from optout.services import (
    PERCEPTUAL_LEVELS,
    count_reason,
    passed_unchecked_warning,
    receipt_build,
    receipt_file,
    receipt_output,
    receipt_sidecar,
    receipt_sign,
    signal_protocols,
)
from optout.snapshots import descriptor_version, max_radius, snapshot_for_revision
from registry.selectors import opt_ins_apply, registry_revision_current
from workers.engine import manifests as engine_manifests
from workers.engine import reports as engine_reports
from workers.engine.consent import OPT_IN
from workers.engine.datasignals import EMBEDDED_PROTOCOLS
from workers.engine.manifests import ColumnReport, ManifestRejected, column_report
from workers.engine.perceptual import removes_row
from workers.engine.progress import Progress
from workers.engine.receipts import file_sha256, manifest_sha256
from workers.engine.reports import (
    UNCHECKED,
    match_line,
    problem_line,
    write_reports,
)
from workers.engine.types import LOGICAL_COLUMNS, ManifestFormat, MatchKind

CLAIM_KINDS = frozenset(
    {MatchKind.URL, MatchKind.PREFIX, MatchKind.DOMAIN, MatchKind.STYLE}
)
NOT_IMAGES = CLAIM_KINDS | {MatchKind.SIGNAL}


class Command(BaseCommand):
    help = (
        "Check a dataset manifest (CSV/TSV, JSONL, Parquet or WebDataset tar "
        "shards) against the registry locally, and write the match reports, the "
        "filtered manifest and a receipt. Stores nothing in the database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "paths",
            nargs="+",
            metavar="PATH",
            help="the manifest: a file, a folder of its parts (with img2dataset's "
            "sidecars), or a glob; several make one manifest, in order",
        )
        parser.add_argument(
            "--out",
            metavar="DIR",
            help="where to write the results (default: ./<manifest name>-check/)",
        )
        parser.add_argument(
            "--columns",
            metavar="JSON",
            help='logical column -> the file\'s column, e.g. \'{"url": "URL"}\'',
        )
        parser.add_argument(
            "--phash", type=int, metavar="N", help="pHash Hamming threshold"
        )
        parser.add_argument(
            "--pdq", type=int, metavar="N", help="PDQ Hamming threshold"
        )
        parser.add_argument(
            "--remove-levels",
            metavar="LEVELS",
            help="perceptual levels that take a row out of the filtered manifest, "
            "comma-separated from "
            + ", ".join(PERCEPTUAL_LEVELS)
            + " (default "
            + ",".join(settings.MATCH_REMOVE_LEVELS)
            + "); exact, URL and style matches always do",
        )
        parser.add_argument(
            "--signals",
            metavar="PROTOCOLS",
            help="protocols read in the images' metadata, comma-separated from "
            + ", ".join(EMBEDDED_PROTOCOLS)
            + ", or none (default "
            + (",".join(settings.SIGNAL_PROTOCOLS) or "none")
            + "); a refusal of AI training takes its row out",
        )
        parser.add_argument(
            "--keep-unchecked",
            action="store_true",
            help="keep rows that could not be checked in full in the filtered "
            "manifest (by default they are left out; the reports list them)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        files = self._files(options["paths"])
        try:
            layout = engine_manifests.arrange([f.name for f in files])
        except ManifestRejected as exc:
            raise CommandError(str(exc)) from None
        paths = [files[i] for i in layout.parts]
        sidecars = [(files[i], sidecar) for i, sidecar in layout.sidecars]
        first = Path(options["paths"][0])
        out = Path(options["out"] or f"{first.stem or first.name}-check")
        overrides = self._columns(options["columns"])
        thresholds = default_thresholds()
        limits = max_radius()
        for kind in ("phash", "pdq"):
            value = options[kind]
            if value is None:
                continue
            limit = getattr(limits, kind)
            if not 0 <= value <= limit:
                raise CommandError(f"--{kind} must be from 0 to {limit}")
            thresholds = replace(thresholds, **{kind: value})

        keep_unchecked = bool(options["keep_unchecked"])
        remove_levels = self._levels(options["remove_levels"])
        try:
            fmt = self._sniff(paths)
            for path, sidecar in sidecars:
                engine_manifests.check_sidecar(path, sidecar)
            columns = engine_manifests.detect_columns(paths, fmt, overrides or None)
            found_columns = engine_manifests.found_columns(paths[0], fmt)
            specs = engine_manifests.plan_chunks(
                paths, fmt, target_rows=settings.MATCH_CHUNK_ROWS
            )
        except ManifestRejected as exc:
            raise CommandError(f"{paths[0].name}: {exc}") from None
        sha256, size, part_digests = manifest_sha256(paths)
        rows_total = sum(spec.rows for spec in specs)

        revision = registry_revision_current()
        self.stderr.write(
            f"Loading the registry at revision {revision}…", style_func=str
        )
        snapshot = snapshot_for_revision(revision)
        self.stderr.write(
            f"{fmt.value} manifest, {rows_total:,} rows in {len(specs)} "
            f"chunk{'s' if len(specs) != 1 else ''}",
            style_func=str,
        )
        column_words = column_report(columns, found_columns)
        self._say_columns(column_words)

        started = timezone.now()

        def write(text: str) -> None:
            self.stderr.write(text, style_func=str, ending="")
            self.stderr.flush()

        progress = Progress(write, rows_total)
        removed: set[int] = set()
        graded: set[int] = set()  # rows with a perceptual match
        opted_in: set[int] = set()  # rows with an opt-in match
        unchecked_rows: set[int] = set()
        counts: Counter[str] = Counter()
        level_counts: Counter[str] = Counter()
        levels = default_levels()
        references = reference_features if settings.MATCH_VERIFY else None
        tails = default_tails()
        signals = self._signals(options["signals"])
        reasons: Counter[str] = Counter()
        unchecked = Counter[str]()  # rows: all, passed on, left out for it alone

        def report_rows() -> Iterator[dict[str, Any]]:
            for spec in specs:
                for batch in engine_manifests.read_chunk(paths, fmt, spec, columns):
                    found, problems = snapshot.match(
                        batch,
                        thresholds,
                        levels=levels,
                        references=references,
                        tails=tails,
                        signals=signals,
                    )
                    found = match_exceptions_filter(
                        revision=revision, batch=batch, found=found
                    )
                    found = opt_ins_apply(revision=revision, found=found)
                    works = image_work_ids(
                        image_ids=(m.ref for m in found if m.kind not in NOT_IMAGES)
                    )
                    matched: set[int] = set()
                    lines: list[dict[str, Any]] = []
                    for m in found:
                        removes = removes_row(m.level, remove_levels)
                        if removes:
                            matched.add(m.row)
                        if m.level == OPT_IN:
                            opted_in.add(m.row)
                        elif m.level:
                            graded.add(m.row)
                        if m.level:
                            level_counts[m.level] += 1
                        counts[str(m.kind)] += 1
                        lines.append(
                            match_line(
                                m, batch, removes=removes, work_id=works.get(m.ref)
                            )
                        )
                    removed.update(matched)
                    problems = sorted(
                        [*batch.unchecked, *problems], key=lambda p: p.row
                    )
                    rows = {p.row for p in problems}
                    unchecked_rows.update(rows)
                    alone = rows - matched
                    unchecked["rows"] += len(rows)
                    if keep_unchecked:
                        unchecked["passed"] += len(alone)
                    else:
                        unchecked["removed"] += len(alone)
                        removed.update(alone)
                    for p in problems:
                        count_reason(reasons, p.reason)
                        lines.append(
                            problem_line(p, batch, columns, removed=not keep_unchecked)
                        )
                    # a row's matches first, then what it was not checked for
                    lines.sort(
                        key=lambda line: (line["index"], line["kind"] == UNCHECKED)
                    )
                    yield from lines
                    progress.advance(len(batch))

        places = engine_reports.RowPlaces.from_chunks([p.name for p in paths], specs)
        try:
            reports = write_reports(report_rows(), out, places)
            progress.finish()
            filtered = engine_manifests.write_filtered(
                paths,
                fmt,
                np.array(sorted(removed), dtype=np.int64),
                out / "filtered",
            )
            rewritten = engine_manifests.write_sidecars(
                fmt, paths, filtered, sidecars, out / "filtered"
            )
        except ManifestRejected as exc:
            raise CommandError(f"{paths[0].name}: {exc}") from None

        part_rows: Counter[int] = Counter()
        for spec in specs:
            part_rows[spec.part] += spec.rows
        written = [
            ("report_csv", reports["csv"]),
            ("report_jsonl", reports["jsonl"]),
            ("report_parquet", reports["parquet"]),
            *(("filtered", path) for path in filtered),
            *(("sidecar", path) for path in rewritten),
        ]
        warnings = list(column_words.warnings)
        if unchecked["passed"]:
            warnings.append(passed_unchecked_warning(unchecked["passed"]))
        payload = receipt_build(
            job_id=None,
            manifest_name=paths[0].name,
            manifest_sha256=sha256,
            manifest_format=fmt.value,
            manifest_size=size,
            files=[
                receipt_file(name=path.name, size=part_size, sha256=part_sha, rows=rows)
                for path, (part_sha, part_size), rows in zip(
                    paths,
                    part_digests,
                    [part_rows[i] for i in range(len(paths))],
                    strict=True,
                )
            ],
            sidecars=[
                receipt_sidecar(
                    name=sidecar.name,
                    kind=sidecar.kind,
                    part=paths[sidecar.part].name,
                    size=path.stat().st_size,
                    sha256=file_sha256(path)[0],
                )
                for path, sidecar in sidecars
            ],
            columns=columns,
            column_words=column_words,
            warnings=warnings,
            registry_revision=revision,
            thresholds={
                **asdict(thresholds),
                **asdict(levels),
                "verify": settings.MATCH_VERIFY,
                "variant_scheme": settings.MATCH_VARIANT_SCHEME,
                "descriptor_model": descriptor_version(),
                "signals": signals,
            },
            rows=rows_total,
            rows_removed=len(removed),
            counts=dict(counts),
            rows_unchecked=unchecked["rows"],
            unchecked_reasons=dict(reasons),
            keep_unchecked=keep_unchecked,
            rows_passed_unchecked=unchecked["passed"],
            rows_removed_unchecked=unchecked["removed"],
            levels=dict(level_counts),
            remove_levels=[lv for lv in PERCEPTUAL_LEVELS if lv in remove_levels],
            rows_listed_for_review=len(graded - removed),
            rows_opt_in=len(opted_in - removed - unchecked_rows),
            outputs=[
                receipt_output(kind=kind, name=path.name, path=path)
                for kind, path in written
            ],
            started=started,
            finished=timezone.now(),
        )
        receipt_path = out / "receipt.json"
        receipt_path.write_text(
            json.dumps(receipt_sign(payload), indent=2, ensure_ascii=False),
            encoding="utf-8",
        )

        summary = ", ".join(f"{kind} {n:,}" for kind, n in sorted(counts.items()))
        read = (
            f"{rows_total:,} rows read, {rows_total - unchecked['rows']:,} checked "
            "in full"
            if unchecked["rows"]
            else f"{rows_total:,} rows checked"
        )
        self.stdout.write(
            f"{read}, {len(removed):,} to remove"
            + (f" ({summary})" if summary else "")
            + "."
        )
        if unchecked["rows"]:
            n = unchecked["rows"]
            self.stdout.write(
                f"{n:,} row{'s' if n != 1 else ''} could not be checked in full "
                "(listed in the reports as unchecked): "
                + (
                    f"{unchecked['passed']:,} passed on unchecked (--keep-unchecked)."
                    if keep_unchecked
                    else f"{unchecked['removed']:,} left out for that alone."
                )
            )
        for warning in warnings:
            self.stdout.write(f"Warning: {warning}.")
        for path in [*reports.values(), *filtered, *rewritten, receipt_path]:
            self.stdout.write(f"  {path}")

    def _say_columns(self, report: ColumnReport) -> None:
        """Which column each signal is read from, and what is left unread."""
        self.stdout.write(
            "Columns used: "
            + (", ".join(f"{k} <- {v}" for k, v in report.used.items()) or "none")
        )
        if "image" in report.used:
            self.stdout.write("  sha256, md5, phash and pdq are computed from images")
        if report.not_checked:
            self.stdout.write(
                "Not checked, for want of a column: " + ", ".join(report.not_checked)
            )
        if report.unused:
            self.stdout.write("Found but not used: " + ", ".join(report.unused))

    def _files(self, given: list[str]) -> list[Path]:
        """The manifest's files: each PATH a file, a folder's files or a glob's."""
        files: list[Path] = []
        for raw in given:
            path = Path(raw)
            if path.is_dir():
                found, skipped = engine_manifests.folder_files(path)
                if not found:
                    raise CommandError(f"{path}: the folder holds no manifest file")
                if skipped:
                    self.stderr.write(
                        f"{path}: not part of the manifest: " + ", ".join(skipped),
                        style_func=str,
                    )
                files += found
            elif path.is_file():
                files.append(path)
            elif glob.has_magic(raw):
                matched = sorted(Path(p) for p in glob.glob(raw) if Path(p).is_file())
                matched = [p for p in matched if not engine_manifests.ignored(p.name)]
                if not matched:
                    raise CommandError(f"{raw}: no file matches")
                files += matched
            else:
                raise CommandError(f"{path}: no such file or folder")
        return files

    def _levels(self, raw: str | None) -> set[str]:
        if raw is None:
            return set(settings.MATCH_REMOVE_LEVELS)
        levels = {level.strip() for level in raw.split(",") if level.strip()}
        unknown = sorted(levels - set(PERCEPTUAL_LEVELS))
        if unknown:
            raise CommandError(
                f"--remove-levels: unknown level {unknown[0]!r}; use "
                + ", ".join(PERCEPTUAL_LEVELS)
            )
        return levels

    def _signals(self, raw: str | None) -> list[str]:
        chosen = None if raw is None else [p.strip() for p in raw.split(",")]
        try:
            return signal_protocols([p for p in chosen if p] if chosen else chosen)
        except ValidationFailed as exc:
            raise CommandError(f"--{exc.message}") from None

    def _columns(self, raw: str | None) -> dict[str, str]:
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise CommandError('--columns must be a JSON object, e.g. {"url": "URL"}')
        for logical, actual in value.items():
            if logical not in (*LOGICAL_COLUMNS, "image"):
                raise CommandError(
                    f"--columns: unknown column {logical!r}; use one of "
                    + ", ".join(sorted((*LOGICAL_COLUMNS, "image")))
                )
            if not isinstance(actual, str) or not actual:
                raise CommandError(f"--columns: {logical} must name a column")
        return value

    def _sniff(self, paths: list[Path]) -> ManifestFormat:
        formats = []
        for path in paths:
            try:
                formats.append(engine_manifests.sniff(path, path.name))
            except ManifestRejected as exc:
                raise CommandError(f"{path.name}: {exc}") from None
        for path, fmt in zip(paths, formats, strict=True):
            if fmt != formats[0]:
                raise CommandError(
                    f"{path.name}: a {fmt.value} part among {formats[0].value} parts "
                    f"({paths[0].name}); the parts of one manifest share one format"
                )
        return formats[0]
