"""What an image's own metadata says about AI training, read from real files:
XMP written by Pillow, C2PA manifests signed by c2pa-python."""

from __future__ import annotations

import time

import pytest

from tests.images import image_bytes
from tests.signal_images import iptc_data_mining, rsl_licence, with_c2pa, with_xmp
from workers.engine.datasignals import EMBEDDED_PROTOCOLS, read_embedded
from workers.engine.snapshot import RegistrySnapshot, checks_applied
from workers.engine.types import MatchKind, RowBatch


def preferences(data: bytes, protocols=EMBEDDED_PROTOCOLS) -> set[tuple[str, str]]:
    said = read_embedded(data, protocols)
    assert said.problems == []
    return {(s.source, s.preference) for s in said.statements}


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
@pytest.mark.parametrize("form", ["element", "text"])
def test_iptc_data_mining_is_read_in_every_format_that_carries_xmp(fmt, form):
    data = with_xmp(1, iptc_data_mining("DMI-PROHIBITED-AIMLTRAINING", form=form), fmt)
    assert preferences(data) == {("iptc", "train-ai=n")}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("DMI-PROHIBITED-AIMLTRAINING", {"train-ai=n"}),
        ("DMI-PROHIBITED-GENAIMLTRAINING", {"train-ai=n"}),
        ("DMI-PROHIBITED", {"train-ai=n", "ai-use=n", "search=n"}),
        (
            "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING",
            {"train-ai=n", "ai-use=n", "search=y"},
        ),
        ("DMI-PROHIBITED-SEECONSTRAINT", {"train-ai=n", "ai-use=n"}),
        ("DMI-PROHIBITED-SEELINKEDRIGHTSEXPR", {"train-ai=n", "ai-use=n"}),
        ("DMI-ALLOWED", {"train-ai=y", "ai-use=y", "search=y"}),
        ("DMI-UNSPECIFIED", set()),
        ("SOMETHING-ELSE", set()),
    ],
)
def test_each_iptc_value_states_its_preferences(value, expected):
    data = with_xmp(2, iptc_data_mining(value))
    assert {p for _, p in preferences(data)} == expected


def test_the_attribute_form_of_plus_data_mining_is_read_too():
    from tests.signal_images import PLUS_VOCAB, xmp_packet

    packet = xmp_packet("").replace(
        b"<rdf:Description ",
        f'<rdf:Description plus:DataMining="{PLUS_VOCAB}DMI-PROHIBITED" '.encode(),
    )
    assert ("iptc", "train-ai=n") in preferences(with_xmp(3, packet))


@pytest.mark.parametrize("label", ["c2pa.training-mining", "cawg.training-mining"])
@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ({"ai_generative_training": "notAllowed"}, {"train-ai=n"}),
        ({"ai_training": "constrained"}, {"train-ai=n"}),  # constrained is a no
        ({"data_mining": "notAllowed"}, {"train-ai=n"}),  # mining makes a set
        ({"ai_training": "allowed"}, {"train-ai=y"}),
        ({"ai_inference": "notAllowed"}, {"ai-use=n"}),
    ],
)
def test_training_and_data_mining_assertions_under_both_labels(
    label, entries, expected
):
    prefix = label.split(".")[0]
    data = with_c2pa(4, {f"{prefix}.{k}": v for k, v in entries.items()}, label=label)
    said = read_embedded(data)
    assert said.problems == []
    assert {(s.source, s.preference) for s in said.statements} == {
        (prefix, p) for p in expected
    }
    # Who said it: the manifest validates, its test signer is on no trust list.
    assert {s.note for s in said.statements} == {
        "manifest valid, signer on no trust list; signed by Harbour Artist"
    }


def test_an_rsl_licence_in_xmp_refuses_what_it_does_not_permit():
    only_search = with_xmp(5, rsl_licence(permits="search"))
    assert preferences(only_search) == {
        ("rsl", "train-ai=n"),
        ("rsl", "ai-use=n"),
        ("rsl", "search=y"),
    }
    prohibited = with_xmp(5, rsl_licence(prohibits="ai-train"))
    assert preferences(prohibited) == {("rsl", "train-ai=n")}
    permitted = with_xmp(5, rsl_licence(permits="ai-train, search"))
    assert ("rsl", "train-ai=y") in preferences(permitted)
    assert read_embedded(permitted).refusals() == []


def test_only_the_chosen_protocols_are_read():
    iptc = with_xmp(6, iptc_data_mining("DMI-PROHIBITED"))
    cawg = with_c2pa(
        6, {"cawg.ai_training": "notAllowed"}, label="cawg.training-mining"
    )
    assert preferences(iptc, ["c2pa", "cawg", "rsl"]) == set()
    assert preferences(cawg, ["iptc", "c2pa", "rsl"]) == set()
    assert preferences(cawg, ["cawg"]) == {("cawg", "train-ai=n")}
    assert read_embedded(iptc, []).statements == []


def test_an_image_without_metadata_states_nothing():
    for fmt in ("JPEG", "PNG", "WEBP", "GIF"):
        said = read_embedded(image_bytes(7, fmt))
        assert said.statements == [] and said.problems == []


def test_metadata_that_cannot_be_read_is_a_problem_never_a_clean_image():
    broken_xmp = with_xmp(8, b"<x:xmpmeta><rdf:RDF><unclosed")
    said = read_embedded(broken_xmp)
    assert said.statements == []
    assert said.problems and said.problems[0].startswith(
        "XMP packet is not well-formed XML"
    )

    signed = with_c2pa(
        8, {"c2pa.ai_training": "notAllowed"}, label="c2pa.training-mining"
    )
    at = signed.find(b"c2pa.training-mining")
    damaged = signed[: at + 200] + b"x" * 60 + signed[at + 260 :]
    said = read_embedded(damaged)
    assert said.statements == []
    assert said.problems and said.problems[0].startswith("C2PA manifest cannot be read")


def test_an_entity_bomb_in_xmp_is_refused_not_expanded():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode()
            for i in range(8)
        )
        + b']><x:xmpmeta xmlns:x="adobe:ns:meta/">&i;</x:xmpmeta>'
    )
    started = time.monotonic()
    said = read_embedded(with_xmp(9, bomb))
    assert time.monotonic() - started < 5
    assert said.statements == []
    assert said.problems and "XMP" in said.problems[0]


def _batch(images: list[bytes | None]) -> RowBatch:
    names = [f"{i:04d}.jpg" for i in range(len(images))]
    return RowBatch.of(first_row=10, images=images, image_names=names)


def test_matching_a_batch_makes_a_signal_match_per_refusal():
    snapshot = RegistrySnapshot.build(revision=1)
    images = [
        with_xmp(11, iptc_data_mining("DMI-PROHIBITED-AIMLTRAINING")),
        image_bytes(12, "JPEG"),
        with_c2pa(
            13,
            {
                "cawg.ai_generative_training": "notAllowed",
                "cawg.ai_inference": "allowed",
            },
            label="cawg.training-mining",
        ),
        with_xmp(14, iptc_data_mining("DMI-ALLOWED")),
        with_xmp(15, b"<x:xmpmeta><broken"),
    ]
    found, problems = snapshot.match(_batch(images), signals=EMBEDDED_PROTOCOLS)
    signals = [m for m in found if m.kind is MatchKind.SIGNAL]
    assert [(m.row, m.source, m.matched) for m in signals] == [
        (10, "iptc", "train-ai=n"),
        (12, "cawg", "train-ai=n"),
    ]
    assert signals[0].evidence == "DMI-PROHIBITED-AIMLTRAINING"
    assert signals[1].evidence.startswith("cawg.ai_generative_training=notAllowed; ")
    assert all(m.ref == 0 and m.level == "" for m in signals)
    assert [(p.row, p.signal, p.field) for p in problems] == [
        (14, "metadata", "0004.jpg")
    ]

    # Not asked for: nothing is read.
    found, problems = snapshot.match(_batch(images))
    assert not [m for m in found if m.kind is MatchKind.SIGNAL]
    assert not problems


def test_the_checks_a_receipt_lists_name_the_protocols_read():
    checks = checks_applied({"image": "jpg"}, verify=True, signals=["iptc", "cawg"])
    assert checks[-1] == {
        "signal": "metadata",
        "columns": ["jpg"],
        "kinds": ["signal"],
        "protocols": ["iptc", "cawg"],
    }
    assert all(
        c["signal"] != "metadata" for c in checks_applied({"image": "jpg"}, verify=True)
    )
    assert all(
        c["signal"] != "metadata"
        for c in checks_applied({"url": "URL"}, verify=True, signals=["iptc"])
    )
