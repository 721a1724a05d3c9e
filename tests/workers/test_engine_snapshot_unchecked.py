"""What the snapshot could not check: a URL that does not normalize and an image
that does not decode each leave only their own signal unchecked."""

from __future__ import annotations

from tests.images import image_bytes
from workers.engine.snapshot import RegistrySnapshot
from workers.engine.types import MatchKind, RowBatch, RowProblem

CLAIMED = "https://alice.example/art/harbour.png"


def shard_batch(images: list[bytes], urls: list[str | None]) -> RowBatch:
    n = len(images)
    return RowBatch(
        first_row=10,
        keys=[f"{i:03d}" for i in range(n)],
        urls=urls,
        captions=[None] * n,
        sha256=[None] * n,
        md5=[None] * n,
        phash=[None] * n,
        pdq=[None] * n,
        images=list(images),
        image_names=[f"{i:03d}.jpg" for i in range(n)],
    )


def test_an_image_that_does_not_decode_leaves_the_url_checked():
    snapshot = RegistrySnapshot.build(revision=1, url_claims=[(5, CLAIMED)])
    broken = b"%PDF-1.7 not an image at all"
    batch = shard_batch(
        [broken, broken, image_bytes(1, "JPEG")],
        ["https://free.example/a", CLAIMED, "not a url"],
    )

    matches, problems = snapshot.match(batch)

    assert [(m.row, m.kind, m.ref) for m in matches] == [(11, MatchKind.URL, 5)]
    assert [(p.row, p.signal, p.field) for p in problems] == [
        (10, "image", "000.jpg"),
        (11, "image", "001.jpg"),
        (12, "url", "url"),
    ]
    assert problems[0].reason == (
        "image does not decode: not an image (unrecognised file format)"
    )
    assert batch.pdq[2] is not None  # the good image was fingerprinted


def test_a_row_the_reader_could_not_read_never_matches():
    snapshot = RegistrySnapshot.build(revision=1, url_claims=[(5, CLAIMED)])
    batch = shard_batch([image_bytes(1, "JPEG")], [CLAIMED])
    batch.unchecked = [RowProblem(10, "line is not valid JSON")]

    matches, problems = snapshot.match(batch)

    assert (matches, problems) == ([], [])
