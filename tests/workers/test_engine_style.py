"""Style names in captions: normalized, word-bounded, one match per claim."""

from __future__ import annotations

import json
import random
import re

import pytest

from workers.engine import style
from workers.engine.style import StyleIndex, normalize_text
from workers.engine.types import Match, MatchKind


def found(names: list[tuple[int, str]], caption: str | None) -> list[tuple[int, str]]:
    index = StyleIndex.build((ref, normalize_text(name)) for ref, name in names)
    return [(m.ref, m.matched) for m in index.match([caption], 0)]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Greg  RUTKOWSKI", "greg rutkowski"),
        ("  Greg\tRutkowski\n", "greg rutkowski"),
        (
            "Ｇｒｅｇ\u3000Ｒｕｔｋｏｗｓｋｉ",
            "greg rutkowski",
        ),  # full width, ideographic space
        ("Straße", "strasse"),
        ("Chloe\u0301", "chloé"),  # combining accent composed
        ("ﬁne", "fine"),
        ("", ""),
    ],
)
def test_it_normalizes_text_like_the_registry(given, expected):
    assert normalize_text(given) == expected


@pytest.mark.parametrize(
    ("name", "caption", "matches"),
    [
        ("Ito", "by Ito.", True),
        ("Ito", "Itomaki pattern", False),
        ("Ito", "kaito style", False),
        ("Ito", "ito2 and 2ito", False),
        ("Ito", "ito_style wallpaper", True),  # "_" separates words
        ("Ito", "#ito #art", True),
        ("Ito", "«Ito»", True),
        ("Ito", "ITO", True),
        ("Ito", "Ｉｔｏ", True),
        ("Ito", "itó", False),
        ("Greg Rutkowski", "art by greg  RUTKOWSKI, trending", True),
        ("Greg Rutkowski", "(Greg Rutkowski)", True),
        ("Greg Rutkowski", "greg_rutkowski.jpg", True),
        ("Greg Rutkowski", "Greg\nRutkowski", True),
        ("Greg Rutkowski", "gregrutkowski", False),
        ("Greg Rutkowski", "greg rutkowskis", False),
        ("Greg Rutkowski", "agreg rutkowski", False),
        ("Greg Rutkowski", "greg, rutkowski", True),  # words, not punctuation
        ("Jean-Michel Basquiat", "jean michel basquiat", True),
        ("Jean Michel Basquiat", "Jean-Michel Basquiat", True),
        ("H.R. Giger", "HR Giger", False),
        ("H.R. Giger", "h. r. giger", True),
        ("Chloé", "chloe", False),  # accents are not folded
        ("Chloé", "CHLOE\u0301", True),
        ("Straße", "STRASSE", True),
        ("Иван Шишкин", "картина: Иван Шишкин.", True),
        ("Иван Шишкин", "Иван Шишкинов", False),
        ("राजा रवि वर्मा", "चित्रकार राजा रवि वर्मा की पेंटिंग", True),  # vowel signs
        ("राजा", "राजाओं का चित्र", False),
        ("ito", "ito\u0334 style", False),  # a combining mark continues the word
        # Scripts without spaces: no boundaries needed next to them.
        ("葛飾北斎", "葛飾北斎の浮世絵", True),
        ("葛飾北斎", "浮世絵（葛飾北斎）", True),
        ("北斎", "葛飾北斎", True),  # the documented price
        ("김홍도", "김홍도의 그림", True),
        ("Ito", "浮世絵Ito", True),
        ("Ito", "Ito浮世絵", True),
        ("Hokusai 北斎", "hokusai北斎", True),
        ("สมชาย", "ภาพวาดสมชายสวยงาม", True),
        ("ศิลปิน", "ภาพศิลปินไทย", True),
        ("ศิลปิน", "ศ ลป น", False),  # Thai vowel marks belong to the word
    ],
)
def test_names_match_as_whole_words(name, caption, matches):
    expected = [(1, normalize_text(name))] if matches else []
    assert found([(1, name)], caption) == expected


def test_a_claim_matches_once_per_row_however_often_its_names_occur():
    index = StyleIndex.build(
        [
            (1, "greg rutkowski"),
            (1, "rutkowski"),  # an alias of claim 1
            (2, "rutkowski"),  # another claim on the same name
            (3, "mucha"),
        ]
    )
    captions = ["Rutkowski, by greg rutkowski and RUTKOWSKI", None, "", "mucha mucha"]
    assert index.match(captions, 100) == [
        Match(row=100, kind=MatchKind.STYLE, ref=1, matched="rutkowski"),
        Match(row=100, kind=MatchKind.STYLE, ref=2, matched="rutkowski"),
        Match(row=103, kind=MatchKind.STYLE, ref=3, matched="mucha"),
    ]
    assert len(index) == 3


def test_matched_is_the_name_that_ends_first():
    index = StyleIndex.build([(1, "greg rutkowski"), (1, "rutkowski greg")])
    [match] = index.match(["rutkowski greg rutkowski"], 0)
    assert match.matched == "rutkowski greg"


def test_names_differing_only_in_punctuation_keep_their_own_spelling():
    index = StyleIndex.build([(1, "jean-michel basquiat"), (2, "jean michel basquiat")])
    assert [(m.ref, m.matched) for m in index.match(["Jean Michel Basquiat"], 0)] == [
        (1, "jean-michel basquiat"),
        (2, "jean michel basquiat"),
    ]


def test_a_name_never_spans_two_captions(monkeypatch):
    monkeypatch.setattr(style, "_BLOCK", 3)
    index = StyleIndex.build([(1, "greg rutkowski"), (2, "ito")])
    captions = ["by greg", "rutkowski", "ito", "x", "y", "ito", "ito\x00ito"]
    assert [(m.row, m.ref) for m in index.match(captions, 10)] == [
        (12, 2),
        (15, 2),
        (16, 2),
    ]


def test_it_indexes_only_names_that_have_words():
    index = StyleIndex.build([(1, "!!"), (2, "--"), (3, "ito")])
    assert index.keys == [" ito "]
    assert [m.ref for m in index.match(["!! -- ito"], 0)] == [3]
    with pytest.raises(ValueError, match="contains NUL"):
        StyleIndex.build([(1, "a\x00b")])


def test_an_empty_index_matches_nothing(tmp_path):
    index = StyleIndex.build([])
    assert len(index) == 0
    assert index.match(["anything"], 0) == []
    index.save(tmp_path)
    assert StyleIndex.load(tmp_path).match(["anything"], 0) == []


def test_it_survives_a_save_and_load(tmp_path):
    index = StyleIndex.build(
        [(1, "ito"), (2, "greg rutkowski"), (3, "葛飾北斎"), (3, "hokusai")]
    )
    captions = ["by Ito", "Greg Rutkowski", "葛飾北斎の浮世絵", "hokusai", "itomaki"]
    index.save(tmp_path / "styles")
    loaded = StyleIndex.load(tmp_path / "styles")
    assert loaded.match(captions, 5) == index.match(captions, 5)
    assert [m.row for m in loaded.match(captions, 5)] == [5, 6, 7, 8]
    assert len(loaded) == 3


def test_it_refuses_another_format(tmp_path):
    StyleIndex.build([(1, "ito")]).save(tmp_path)
    (tmp_path / "index.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(ValueError, match="style index format 99"):
        StyleIndex.load(tmp_path)


TRICKY_CAPTIONS = [
    None,
    "",
    "   ",
    "Plain ASCII, Caption!",
    "Tabs\tand\nnew\r\nlines  and   runs",
    "Ｆｕｌｌ\u3000ｗｉｄｔｈ",
    "Straße ＆ café",
    "葛飾北斎の浮世絵Ito",
    "김홍도의 그림",
    "émoji 🎨 art",
    "nul\x00inside",
    "\u2028line separator\u0085next",
    "İstanbul ΣΊΣΥΦΟΣ",
]


def test_a_block_is_normalized_as_each_caption_would_be():
    text, separators, _ = style._to_word_text(style._normalize_block(TRICKY_CAPTIONS))
    blocks = text.split("\x00")
    assert len(blocks) == len(TRICKY_CAPTIONS) == len(separators) + 1
    for caption, block in zip(TRICKY_CAPTIONS, blocks, strict=True):
        alone = style._to_word_text(
            normalize_text((caption or "").replace("\x00", " "))
        )
        assert block.strip(" ") == alone[0].strip(" ")


def test_it_agrees_with_a_plain_reference_on_random_captions():
    rng = random.Random(5)
    vocabulary = ["ito", "itomaki", "greg", "rutkowski", "art", "by", "mon", "monet"]
    names = ["ito", "greg rutkowski", "rutkowski", "mon", "art by", "monet mon"]
    captions = [
        rng.choice(["", ", ", " - ", "_", "  ", "."]).join(
            rng.choice(vocabulary).upper()
            if rng.random() < 0.2
            else rng.choice(vocabulary)
            for _ in range(rng.randint(0, 8))
        )
        for _ in range(400)
    ]
    index = StyleIndex.build(enumerate(names))

    def reference(caption: str) -> set[int]:
        words = " " + " ".join(re.findall(r"[^\W_]+", caption.casefold())) + " "
        return {ref for ref, name in enumerate(names) if f" {name} " in words}

    got: dict[int, set[int]] = {}
    for m in index.match(captions, 0):
        got.setdefault(m.row, set()).add(m.ref)
    for row, caption in enumerate(captions):
        assert got.get(row, set()) == reference(caption), caption
