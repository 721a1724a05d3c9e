"""Style-name claims (names and aliases) found in manifest captions.

Names and captions share one normal form, `normalize_text`: Unicode NFKC,
case-folded, white space runs collapsed to one space (the registry's rule for
style names). Matching then compares words: a word is a run of letters,
digits (str.isalnum, any script) and combining marks (Devanagari vowel signs,
Thai vowels, Arabic harakat); everything else (spaces, punctuation, symbols,
"_") only separates words. A name matches a caption when its words
occur in the caption as consecutive whole words. So "Greg Rutkowski" matches
"greg  RUTKOWSKI," and "(greg_rutkowski)", and "Jean-Michel Basquiat" matches
"jean michel basquiat"; "Ito" matches neither "Itomaki" nor "Ito2".

Scripts written without spaces between words (Han, Hiragana, Katakana,
Hangul, Thai, Lao, Khmer, Myanmar) have no word boundaries to find, so their
characters never need one: "葛飾北斎" matches in "葛飾北斎の浮世絵", "김홍도" in
"김홍도의 그림" (Korean attaches particles), and "Ito" in "浮世絵Ito". The price:
a name in those scripts also matches inside a longer word ("北斎" inside
"葛飾北斎"); telling words apart there needs a dictionary segmenter.

How: each block of captions is joined with NUL (which no name contains),
normalized once, and rewritten by a numba kernel into a "word text": one
space between words, a space on each side of every run of an unspaced
script, NUL between captions. Names are rewritten the same way and padded
with a space on each side that ends in a spaced-script word, so an
Aho-Corasick hit (pyahocorasick) is word-bounded by construction and Python
touches only real hits. Names that start in an unspaced script live in a
second automaton run only over captions containing such characters: a
pyahocorasick node finds its children by linear search, and thousands of
distinct ideographs at the root would slow every character of every caption.

Limits: names must already be in normal form (the registry stores them so);
a name with no letters or digits can match nothing and is dropped.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

import ahocorasick
import numba
import numpy as np

from .types import Match, MatchKind

FORMAT_VERSION = 1
_SEPARATOR = "\x00"
_BLOCK = 10_000  # captions per automaton pass: ~1 MB of text
_GAP, _WORD, _UNSPACED = 0, 1, 2  # character classes

_UNSPACED_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK and Kangxi radicals
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3130, 0x318F),  # Hangul compatibility Jamo
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),  # Hangul Jamo extended A
    (0xAC00, 0xD7FF),  # Hangul syllables, Jamo extended B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)


def normalize_text(text: str) -> str:
    """NFKC, case-folded, white space collapsed: how names and captions compare."""
    return " ".join(unicodedata.normalize("NFKC", text or "").casefold().split())


@cache
def _classes() -> np.ndarray:
    """Class of every code point: gap, word (spaced script) or unspaced."""
    # Planes 0 and 1 hold every letter, digit and mark outside the CJK planes
    # (2, 3) but for a few hundred variation selectors in plane 14, which
    # stay gaps. 0.2 s, once per process.
    table = np.zeros(0x110000, np.uint8)
    planes = 0x20000
    table[:planes] = np.frombuffer(
        bytes(_in_word(chr(c)) for c in range(planes)), np.uint8
    )
    for lo, hi in _UNSPACED_RANGES:
        table[lo : hi + 1][table[lo : hi + 1] == _WORD] = _UNSPACED
    table[0x20000:0x40000] = _UNSPACED
    return table


def _in_word(char: str) -> bool:
    return char.isalnum() or unicodedata.category(char).startswith("M")


@numba.njit(cache=True, nogil=True)
def _word_text(codes, classes):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Rewrite NUL-separated text (UTF-32 code points) as word text.

    Returns the new code points, the position of each NUL in them, and for
    each caption whether it holds unspaced-script characters.
    """
    out = np.empty(2 * codes.shape[0] + 3, np.uint32)
    separators = np.empty(codes.shape[0], np.int64)
    unspaced = np.zeros(codes.shape[0] + 1, np.bool_)
    space = np.uint32(32)
    k = 0
    row = 0
    out[k] = space
    k += 1
    prev = 0  # class of the last character written: 0 gap (space), 1 word, 2 unspaced
    for i in range(codes.shape[0]):
        c = codes[i]
        if c == 0:
            if prev != 0:
                out[k] = space
                k += 1
            separators[row] = k
            out[k] = c
            out[k + 1] = space
            k += 2
            prev = 0
            row += 1
            continue
        if 65 <= c <= 90:  # A-Z: ASCII captions are not case-folded yet
            c += 32
        kind = classes[c] if c < classes.shape[0] else 0
        if kind == 0:
            if prev != 0:
                out[k] = space
                k += 1
                prev = 0
            continue
        if prev != 0 and prev != kind:  # "浮世絵ito": a space between the two
            out[k] = space
            k += 1
        out[k] = c
        k += 1
        prev = kind
        if kind == 2:
            unspaced[row] = True
    if prev != 0:
        out[k] = space
        k += 1
    return out[:k], separators[:row], unspaced[: row + 1]


def _to_word_text(text: str) -> tuple[str, np.ndarray, np.ndarray]:
    codes = np.frombuffer(text.encode("utf-32-le"), np.uint32)
    out, separators, unspaced = _word_text(codes, _classes())
    return out.tobytes().decode("utf-32-le"), separators, unspaced


def _keys(names: list[str]) -> list[str]:
    """Names as automaton keys: their word text, padded where it needs a word
    boundary; "" for a name without letters or digits. Names hold no NUL."""
    classes = _classes()
    keys = []
    for words in _to_word_text(_SEPARATOR.join(names))[0].split(_SEPARATOR):
        words = words.strip(" ")
        if not words:
            keys.append("")
            continue
        left = " " if classes[ord(words[0])] == _WORD else ""
        right = " " if classes[ord(words[-1])] == _WORD else ""
        keys.append(f"{left}{words}{right}")
    return keys


def word_texts(texts: Sequence[str | None]) -> list[str]:
    """Each text's words, one space apart, in the normal form names and
    captions are compared in (NFKC, case-folded; a word as above), with each
    character of a script written without spaces a word of its own, so a
    full-text index finds a name as consecutive whole words the way
    StyleIndex does (workers/engine/datasetindex.py). None gives ""."""
    if not texts:
        return []
    words, _, unspaced = _to_word_text(_normalize_block(texts))
    classes = _classes()
    out = []
    for i, part in enumerate(words.split(_SEPARATOR)):
        tokens = part.split()
        if unspaced[i]:
            tokens = [
                piece
                for token in tokens
                for piece in (
                    token if classes[ord(token[0])] == _UNSPACED else (token,)
                )
            ]
        out.append(" ".join(tokens))
    return out


def _normalize_block(captions: Sequence[str | None]) -> str:
    """A block of captions joined by NUL, in normal form but for ASCII case
    and white space, which the word text takes care of.

    Non-ASCII captions get NFKC and case folding here, one by one (folding a
    whole block takes the slow path as soon as it holds one non-ASCII
    character); ASCII ones are already NFKC, and their case folding is
    lowering A-Z.
    """
    parts = [c if c and c.isascii() else _fold(c) for c in captions]
    joined = _SEPARATOR.join(parts)
    if joined.count(_SEPARATOR) != len(parts) - 1:  # NUL inside a caption
        joined = _SEPARATOR.join(p.replace(_SEPARATOR, " ") for p in parts)
    return joined


def _fold(caption: str | None) -> str:
    return unicodedata.normalize("NFKC", caption).casefold() if caption else ""


def _automaton(keys: list[str]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    for i, key in enumerate(keys):
        automaton.add_word(key, i)
    if keys:
        automaton.make_automaton()
    return automaton


def _no_objects(data: bytes) -> object:
    # ahocorasick.load wants a deserializer even for an automaton of ints;
    # ours stores no objects, so there is nothing to unpickle.
    raise ValueError("style index automaton holds objects; expected ints")


class StyleIndex:
    """Style names -> claim ids, searched in captions; see the module docstring.

    keys[i] is an automaton key; its (claim, name) pairs are
    key_claims[key_ptr[i]:key_ptr[i+1]] and key_names[...] (indexes into
    `names`). Keys in `spaced` start with " ", keys in `unspaced` with an
    unspaced-script character; both automatons map a key to its index.
    """

    def __init__(
        self,
        names: list[str],
        keys: list[str],
        key_ptr: np.ndarray,
        key_claims: np.ndarray,
        key_names: np.ndarray,
        spaced: ahocorasick.Automaton | None = None,
        unspaced: ahocorasick.Automaton | None = None,
    ) -> None:
        self.names = names
        self.keys = keys
        self.key_ptr = key_ptr
        self.key_claims = key_claims
        self.key_names = key_names
        if spaced is None or unspaced is None:
            spaced = _automaton([])
            unspaced = _automaton([])
            for i, key in enumerate(keys):
                (spaced if key[0] == " " else unspaced).add_word(key, i)
            for automaton in (spaced, unspaced):
                if len(automaton):
                    automaton.make_automaton()
        self.spaced = spaced
        self.unspaced = unspaced
        self._claim_count = int(np.unique(key_claims).shape[0])

    @classmethod
    def build(cls, names: Iterable[tuple[int, str]]) -> StyleIndex:
        """Index (claim_id, name) pairs, names in normal form (normalize_text).

        A claim may have several names (its aliases); several claims may share a
        name, and names that differ only in punctuation share a key. Raises
        ValueError for a name containing NUL.
        """
        pairs: set[tuple[str, int]] = set()
        for claim_id, name in names:
            if _SEPARATOR in name:
                raise ValueError(f"style name {name!r} contains NUL")
            pairs.add((name, int(claim_id)))
        name_list = sorted({name for name, _ in pairs})
        name_index = {name: i for i, name in enumerate(name_list)}
        name_keys = _keys(name_list)
        by_key: dict[str, list[tuple[int, int]]] = {}
        for name, claim_id in pairs:
            key = name_keys[name_index[name]]
            if key:
                by_key.setdefault(key, []).append((claim_id, name_index[name]))
        keys = sorted(by_key)
        groups = [sorted(by_key[k]) for k in keys]
        key_ptr = np.zeros(len(keys) + 1, np.int64)
        np.cumsum([len(g) for g in groups], out=key_ptr[1:])
        flat = [pair for group in groups for pair in group]
        return cls(
            name_list,
            keys,
            key_ptr,
            np.array([c for c, _ in flat], np.int64),
            np.array([n for _, n in flat], np.int64),
        )

    def __len__(self) -> int:
        """How many claims the index holds (each with one name or more)."""
        return self._claim_count

    def match(self, captions: Sequence[str | None], first_row: int) -> list[Match]:
        """One Match per (row, claim) whose name occurs, word-bounded, in the
        row's caption; ordered by row then claim id, `matched` being the
        claim's name that ends first in the caption. None and "" captions
        match nothing."""
        if not self.keys:
            return []
        found: dict[tuple[int, int], str] = {}
        for start in range(0, len(captions), _BLOCK):
            block = captions[start : start + _BLOCK]
            for row, _, key in self._scan(block):
                lo, hi = self.key_ptr[key], self.key_ptr[key + 1]
                for ref, name in zip(
                    self.key_claims[lo:hi].tolist(),
                    self.key_names[lo:hi].tolist(),
                    strict=True,
                ):
                    found.setdefault((first_row + start + row, ref), self.names[name])
        return [
            Match(row=row, kind=MatchKind.STYLE, ref=ref, matched=name)
            for (row, ref), name in sorted(found.items())
        ]

    def _scan(self, captions: Sequence[str | None]) -> list[tuple[int, int, int]]:
        """(row in block, end in text, key index) for every hit, in text order;
        word-bounded by construction."""
        text, separators, unspaced = _to_word_text(_normalize_block(captions))
        hits: list[tuple[int, int, int]] = []
        if len(self.spaced):
            found = list(self.spaced.iter(text))
            if found:
                ends = [end for end, _ in found]
                rows = np.searchsorted(separators, ends).tolist()
                hits += zip(rows, ends, (key for _, key in found), strict=True)
        if len(self.unspaced) and unspaced.any():
            bounds = [0, *separators.tolist(), len(text)]
            for row in np.flatnonzero(unspaced).tolist():
                lo = bounds[row]
                part = text[lo : bounds[row + 1]]
                hits += ((row, lo + end, key) for end, key in self.unspaced.iter(part))
        hits.sort()
        return hits

    def save(self, directory: Path | str) -> None:
        """Write names, keys, claim ids and both automatons into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for label, automaton in (("spaced", self.spaced), ("unspaced", self.unspaced)):
            if len(automaton):  # STORE_INTS: no serializer
                automaton.save(str(directory / f"{label}.automaton"))
        (directory / "names.json").write_text(json.dumps(self.names))
        (directory / "keys.json").write_text(json.dumps(self.keys))
        for array in ("key_ptr", "key_claims", "key_names"):
            np.save(directory / f"{array}.npy", getattr(self, array))
        meta = {"format": FORMAT_VERSION, "names": len(self.names)}
        (directory / "index.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, directory: Path | str) -> StyleIndex:
        """Read an index written by `save`. Raises ValueError for another format."""
        directory = Path(directory)
        meta = json.loads((directory / "index.json").read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"{directory}: style index format {meta.get('format')}")
        automatons = []
        for label in ("spaced", "unspaced"):
            path = directory / f"{label}.automaton"
            automatons.append(
                ahocorasick.load(str(path), _no_objects)
                if path.exists()
                else _automaton([])
            )
        return cls(
            json.loads((directory / "names.json").read_text()),
            json.loads((directory / "keys.json").read_text()),
            *(
                np.load(directory / f"{a}.npy")
                for a in ("key_ptr", "key_claims", "key_names")
            ),
            spaced=automatons[0],
            unspaced=automatons[1],
        )
