"""Opt-ins: a rights holder's consent to AI training on stated terms, applied
to a batch's matches.

A match on a claim or image whose holder opted in does not remove its row:
it becomes level `opt-in` (never among a job's removing levels), carrying
the terms as JSON in `evidence`. Consent needs certainty, so a perceptual
match that is only `possible` neither removes nor consents: it is dropped.
A row is an opt-in row when it has an opt-in match and nothing removes it:
across holders any refusal wins, as aipref-vocab's combination does; within
one holder the most specific claim speaks, as the longest path does in
robots.txt, so a holder who refuses a whole domain can still offer one
prefix or URL of it. An opt-in claim names the same holder's broader
claims it overrides; their matches on a row it covers are dropped.

Django-free: the registry's jobs read the opt-ins in force at the job's
revision from the database (registry/selectors.py), the offline client from
its signed snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from typing import Any

from .exceptions import target_of
from .perceptual import POSSIBLE

OPT_IN = "opt-in"


def terms_text(terms: Mapping[str, str]) -> str:
    """The terms as a match's evidence: compact JSON, keys sorted."""
    return json.dumps(dict(terms), sort_keys=True, separators=(",", ":"))


def apply_opt_ins(
    found: Iterable[Any],
    opted_in: Mapping[str, Mapping[str, str]],
    overrides: Mapping[str, Collection[int]] | None = None,
) -> list[Any]:
    """`found` with the matches on an opted-in target ("claim:12",
    "image:40" -> its terms) turned into opt-in matches, and, on the rows
    an opted-in claim covers, the matches on the claims it overrides
    (`overrides`: target -> claim ids) dropped."""
    out = []
    shadowed: set[tuple[int, int]] = set()  # (row, claim id)
    for m in found:
        target = target_of(m)
        terms = opted_in.get(target) if opted_in else None
        if terms is None:
            out.append(m)
        elif m.level != POSSIBLE:
            out.append(replace(m, level=OPT_IN, evidence=terms_text(terms)))
            for claim in (overrides or {}).get(target, ()):
                shadowed.add((m.row, claim))
    if not shadowed:
        return out
    return [
        m
        for m in out
        if m.level == OPT_IN
        or not target_of(m).startswith("claim:")
        or (m.row, m.ref) not in shadowed
    ]


def opt_in_rows(matches: Iterable[Any], removes: Any) -> set[int]:
    """The rows with an opt-in match and no match that `removes(match)`."""
    consenting: set[int] = set()
    removed: set[int] = set()
    for m in matches:
        if m.level == OPT_IN:
            consenting.add(m.row)
        elif removes(m):
            removed.add(m.row)
    return consenting - removed
