"""Style search: style names in captions, word-bounded, against baselines.

Generates --names style names (seeded: mostly two-word Latin names, some one
word, some with diacritics, some Chinese, Japanese, Korean or Cyrillic) and
--captions LAION-like captions, a few % naming a style (in any case, with odd
spacing and punctuation) and about 1% containing a name inside a longer word
("Itomaki" for "Ito"), which must not match. Measures on one core:

- ours: StyleIndex.match over all captions (blocks joined, one automaton pass);
- naive: the same automaton, one caption at a time (normalize, scan, check);
- regex: one alternation of every name with look-around boundaries, timed on
  a sample and scaled (it is far too slow for the whole set).

    .venv/bin/python bench/style.py --names 100000 --captions 1000000 --repeat 3

Prints medians of --repeat runs and ours/baseline ratios from the same run;
--profile adds a cProfile of one run of ours.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workers.engine.style import (  # noqa: E402
    StyleIndex,
    _normalize_block,
    _to_word_text,
    normalize_text,
)

SYLLABLES = (
    "ka ro mi na to shi ber lin ar te mo sa vi el an dre jo han ma rie lu ca so "
    "phi gre gor wal ter ru kow ski mu cha hok u sai mon et ren oir da li pic as "
    "van gogh kla mt ho per fri da ba squ iat"
).split()
ACCENTS = {"a": "áåä", "e": "éèë", "o": "öøó", "u": "üú", "i": "íï", "n": "ñ", "c": "ç"}
# Real registries hold a few short names; each one hits inside many words
# ("mon" in "mountain"), which is what the boundary check is for.
SHORT = ["ito", "mon", "wlop", "rhads", "nam", "ruan", "ilya", "alena"]
HAN = (
    "葛飾北斎歌川広重喜多川歌麿尾形光琳伊藤若冲横山大観東山魁夷"
    "狩野永徳雪舟等楊円山応挙長谷川等伯"
)
KANA = (
    "あいうえおかきくけこさしすせそたちつてとなにぬねのアイウエオカキクケコサシスセソ"
)
HANGUL = "김이박최정강조윤장임홍도신윤복정선안견"
CYRILLIC = "абвгдежзиклмнопрстуфхцчшщэюя"
VOCAB = (
    "a the of and with on in at photo painting portrait cat dog beautiful "
    "landscape art style by digital oil canvas high quality 4k wallpaper red "
    "blue green sunset woman man city street vintage poster illustration "
    "concept trending artstation detailed render fantasy castle forest river "
    "mountain product shirt cotton size black white gold ring necklace sale "
    "free shipping kitchen table chair wooden modern house garden flower"
).split()
FOREIGN = [
    "café",
    "über",
    "niño",
    "straße",
    "façade",
    "日本の風景",
    "夕焼け",
    "서울",
    "москва",
]


def make_names(count: int, r: random.Random) -> list[str]:
    def word(lo: int = 2, hi: int = 3) -> str:
        w = "".join(r.choice(SYLLABLES) for _ in range(r.randint(lo, hi)))
        if r.random() < 0.1:
            i = r.randrange(len(w))
            if w[i] in ACCENTS:
                w = w[:i] + r.choice(ACCENTS[w[i]]) + w[i + 1 :]
        return w

    names: set[str] = set(SHORT)
    while len(names) < count:
        roll = r.random()
        if roll < 0.80:
            name = f"{word()} {word()}"
        elif roll < 0.92:
            name = word()  # one word
        elif roll < 0.95:
            name = "".join(r.choice(HAN) for _ in range(r.randint(2, 4)))
        elif roll < 0.97:
            name = "".join(r.choice(KANA) for _ in range(r.randint(3, 5)))
        elif roll < 0.98:
            name = "".join(r.choice(HANGUL) for _ in range(3))
        else:
            name = " ".join(
                "".join(r.choice(CYRILLIC) for _ in range(r.randint(4, 8)))
                for _ in range(2)
            )
        name = normalize_text(name)
        if len(name) >= 2:
            names.add(name)
    return sorted(names)


def respell(name: str, r: random.Random) -> str:
    roll = r.random()
    if roll < 0.3:
        return name.title()
    if roll < 0.4:
        return name.upper().replace(" ", "  ")
    if roll < 0.5:
        return name.replace(" ", "\t")
    return name


def make_captions(count: int, names: list[str], r: random.Random) -> list[str | None]:
    captions: list[str | None] = []
    for _ in range(count):
        words = [r.choice(VOCAB) for _ in range(r.randint(4, 14))]
        roll = r.random()
        if roll < 0.03:  # names a style
            words.insert(r.randrange(len(words) + 1), respell(r.choice(names), r) + ",")
        elif roll < 0.04:  # a name inside a longer word: must not match
            name = r.choice(names).split(" ")[-1]
            words.insert(
                r.randrange(len(words) + 1), r.choice(["pre", "x", ""]) + name + "s"
            )
        if r.random() < 0.05:
            words.append(r.choice(FOREIGN))
        caption = " ".join(words)
        if r.random() < 0.3:
            caption = caption.capitalize() + r.choice([".", "!", " - Stock Photo", ""])
        captions.append(caption if r.random() > 0.002 else None)
    return captions


def naive_match(index: StyleIndex, captions: Sequence[str | None], first_row: int):  # type: ignore[no-untyped-def]
    """The same automatons and rules, one caption at a time."""
    found: dict[tuple[int, int], str] = {}
    for i, caption in enumerate(captions):
        if not caption:
            continue
        text = _to_word_text(normalize_text(caption))[0]
        hits = list(index.spaced.iter(text)) if len(index.spaced) else []
        if len(index.unspaced):
            hits += index.unspaced.iter(text)
        hits.sort()
        for _, key in hits:
            lo, hi = index.key_ptr[key], index.key_ptr[key + 1]
            pairs = zip(index.key_claims[lo:hi], index.key_names[lo:hi], strict=True)
            for ref, name in pairs:
                found.setdefault((first_row + i, int(ref)), index.names[name])
    return sorted(found.items())


def regex_for(names: list[str]) -> re.Pattern[str]:
    # Longest first, so "greg rutkowski" wins over "greg". Alternation finds
    # non-overlapping hits only: a speed baseline, not a drop-in replacement.
    alternation = "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
    return re.compile(rf"(?<![^\W_])(?:{alternation})(?![^\W_])")


def timed(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--names", type=int, default=100_000)
    parser.add_argument("--captions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--regex-sample", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this core")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    r = random.Random(args.seed)
    t = time.perf_counter()
    names = make_names(args.names, r)
    # Claims: one name each, every tenth with an alias (another name).
    pairs = [(i, name) for i, name in enumerate(names)]
    pairs += [(i, names[(i * 7919) % len(names)]) for i in range(0, len(names), 10)]
    captions = make_captions(args.captions, names, r)
    chars = sum(len(c) for c in captions if c)
    print(
        f"pinned to cpu {cpu}; {len(names):,} names, {len(captions):,} captions "
        f"(mean {chars / len(captions):.0f} characters), "
        f"generated in {time.perf_counter() - t:.1f} s"
    )
    t = time.perf_counter()
    index = StyleIndex.build(pairs)
    print(
        f"built StyleIndex of {len(index):,} claims in {time.perf_counter() - t:.2f} s"
    )

    n = len(captions)
    plain = StyleIndex(  # the same names, unpadded: hits without word boundaries
        index.names,
        [k.strip(" ") for k in index.keys],
        index.key_ptr,
        index.key_claims,
        index.key_names,
    )
    raw = sum(
        1
        for i in range(0, n, 10_000)
        for _ in plain.unspaced.iter(_normalize_block(captions[i : i + 10_000]))
    )
    print(f"substring hits without word boundaries: {raw / n:.2f} per caption")
    t_ours, ours = timed(args.repeat, lambda: index.match(captions, 0))
    t_naive, naive = timed(args.repeat, lambda: naive_match(index, captions, 0))
    ours_set = sorted(((m.row, m.ref), m.matched) for m in ours)  # type: ignore[attr-defined]
    rows = len({m.row for m in ours})  # type: ignore[attr-defined]
    print(
        f"matches: ours {len(ours_set):,} in {rows:,} captions; "
        f"naive {len(naive):,}; same: {ours_set == naive}"
    )

    t = time.perf_counter()
    pattern = regex_for(names)
    compile_s = time.perf_counter() - t
    sample = [c for c in captions[: args.regex_sample] if c]
    t_regex, _ = timed(
        args.repeat, lambda: [pattern.findall(c.casefold()) for c in sample]
    )
    t_regex *= n / len(sample)  # scaled to all captions

    print(f"\nStyle search, {n:,} captions against {len(names):,} names")
    print("| method | captions/s | ratio ours/method |")
    print("| --- | ---: | ---: |")
    ours_label = "**ours: blocks of captions, one automaton pass**"
    print(f"| {ours_label} | **{n / t_ours:,.0f}** | 1.00 |")
    naive_label = "naive: pyahocorasick per caption"
    print(f"| {naive_label} | {n / t_naive:,.0f} | {t_naive / t_ours:.2f} |")
    print(
        f"| regex alternation (sample of {len(sample)}, compiled in "
        f"{compile_s:.1f} s) | {n / t_regex:,.1f} | {t_regex / t_ours:,.0f} |"
    )
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(index.match, captions, 0)
        print("\ncProfile of one run (ours), by own time:")
        pstats.Stats(profile).sort_stats("tottime").print_stats(10)


if __name__ == "__main__":
    main()
