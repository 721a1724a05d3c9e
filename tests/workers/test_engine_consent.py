"""Opt-ins applied to a batch's matches: consent needs a sure match, never
outweighs another's refusal, and a holder's offer outweighs only that
holder's broader claims."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from workers.engine.consent import OPT_IN, apply_opt_ins, opt_in_rows
from workers.engine.manifests import write_kept
from workers.engine.perceptual import removes_row
from workers.engine.types import ManifestFormat, Match, MatchKind

TERMS = {"licence": "https://a.example/l", "payment": "free", "contact": ""}


def test_matches_on_an_offer_become_opt_in_and_possible_ones_go():
    found = [
        Match(row=0, kind=MatchKind.PREFIX, ref=5, matched="https://a.example/f/"),
        Match(row=1, kind=MatchKind.PDQ, ref=9, distance=10, level="strong"),
        Match(row=2, kind=MatchKind.PDQ, ref=9, distance=60, level="possible"),
        Match(row=3, kind=MatchKind.URL, ref=6),
    ]
    out = apply_opt_ins(found, {"claim:5": TERMS, "image:9": TERMS})
    assert [(m.row, m.level) for m in out] == [(0, OPT_IN), (1, OPT_IN), (3, "")]
    assert json.loads(out[0].evidence) == TERMS
    # An opt-in match never removes its row, whatever the levels removed.
    assert not removes_row(OPT_IN, {"verified", "strong", "possible"})


def test_a_refusal_wins_unless_it_is_the_same_holders_broader_claim():
    found = [
        # row 0: the holder's domain refusal and their own prefix offer
        Match(row=0, kind=MatchKind.DOMAIN, ref=1),
        Match(row=0, kind=MatchKind.PREFIX, ref=2),
        # row 1: the offer, and another holder's exact refusal
        Match(row=1, kind=MatchKind.PREFIX, ref=2),
        Match(row=1, kind=MatchKind.URL, ref=3),
        # row 2: the domain refusal alone, outside the offer
        Match(row=2, kind=MatchKind.DOMAIN, ref=1),
    ]
    out = apply_opt_ins(found, {"claim:2": TERMS}, {"claim:2": [1]})
    assert [(m.row, m.ref, m.level) for m in out] == [
        (0, 2, OPT_IN),
        (1, 2, OPT_IN),
        (1, 3, ""),
        (2, 1, ""),
    ]
    rows = opt_in_rows(out, lambda m: removes_row(m.level, {"strong"}))
    assert rows == {0}


def test_write_kept_writes_only_the_rows_named_part_by_part(tmp_path):
    import pyarrow.parquet as pq

    paths = []
    for part, urls in enumerate([["a", "b", "c"], ["d", "e"]]):
        path = tmp_path / f"part-{part}.parquet"
        pq.write_table(pa.table({"url": urls}), path)
        paths.append(path)
    out = write_kept(
        paths, ManifestFormat.PARQUET, np.array([1, 3]), [3, 2], tmp_path / "out"
    )
    assert [pq.read_table(p).column("url").to_pylist() for p in out] == [["b"], ["d"]]
    assert [p.name for p in out] == ["part-0.parquet", "part-1.parquet"]
