"""Images embedded in Parquet: found by name and type, read in bounded batches,
fingerprinted and checked like a tar shard's (workers/engine/manifests/_parquet.py)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.images import image_bytes, truncated_png
from workers.engine.manifests import (
    ManifestRejected,
    column_report,
    detect_columns,
    found_columns,
    plan_chunks,
    read_chunk,
)
from workers.engine.snapshot import RegistrySnapshot
from workers.engine.types import ManifestFormat

PARQUET = ManifestFormat.PARQUET


def write(path: Path, columns: dict) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def read(path: Path, columns: dict, **kwargs):
    out = []
    for spec in plan_chunks([path], PARQUET):
        out += list(read_chunk([path], PARQUET, spec, columns, **kwargs))
    return out


def test_an_img2dataset_jpg_column_is_read_as_the_rows_images(tmp_path):
    images = [image_bytes(1, "JPEG"), None, image_bytes(2, "JPEG")]
    path = write(
        tmp_path / "00000.parquet",
        {
            "url": [
                "https://a.example/1.jpg",
                "https://a.example/gone.jpg",
                "https://a.example/2.jpg",
            ],
            "status": ["success", "failed_to_download", "success"],
            "jpg": pa.array(images, pa.binary()),
        },
    )

    columns = detect_columns(path, PARQUET)
    (batch,) = read(path, columns)

    assert columns == {"url": "url", "image": "jpg"}
    assert batch.images == images
    assert batch.image_names == ["jpg"] * 3
    assert batch.unchecked == []  # a failed download has no image: not unchecked
    report = column_report(columns, found_columns(path, PARQUET))
    assert report.used["image"] == "jpg"
    assert "phash" not in report.not_checked  # computed from the images


def test_a_hugging_face_image_struct_is_read_by_its_bytes(tmp_path):
    data = image_bytes(3, "PNG")
    struct = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    path = write(
        tmp_path / "hf.parquet",
        {"image": pa.array([{"bytes": data, "path": "a.png"}], struct), "text": ["x"]},
    )

    columns = detect_columns(path, PARQUET)
    (batch,) = read(path, columns)

    assert columns == {"caption": "text", "image": "image"}
    assert batch.images == [data]


def test_images_alone_are_something_to_check_and_other_binaries_are_not_images(
    tmp_path,
):
    alone = write(
        tmp_path / "a.parquet", {"png": pa.array([image_bytes(1)], pa.binary())}
    )
    assert detect_columns(alone, PARQUET) == {"image": "png"}
    blob = write(tmp_path / "b.parquet", {"blob": pa.array([b"x"], pa.binary())})
    with pytest.raises(ManifestRejected, match="no usable column"):
        detect_columns(blob, PARQUET)
    assert detect_columns(blob, PARQUET, {"image": "blob"}) == {"image": "blob"}


def test_a_mapping_to_a_column_without_image_bytes_is_refused(tmp_path):
    path = write(tmp_path / "a.parquet", {"url": ["https://a.example/1"], "WIDTH": [3]})
    with pytest.raises(ManifestRejected) as exc:
        detect_columns(path, PARQUET, {"image": "WIDTH"})
    assert exc.value.message == (
        "column 'WIDTH' given for image holds int64, not image bytes (binary, or "
        "a struct with a binary bytes field)"
    )
    assert exc.value.field == "image"
    assert detect_columns(path, PARQUET, {"image": ""}) == {"url": "url"}


def test_an_oversized_image_is_unchecked_and_its_url_still_read(tmp_path):
    path = write(
        tmp_path / "a.parquet",
        {
            "url": ["https://a.example/1.jpg", "https://a.example/2.jpg"],
            "jpg": pa.array(
                [image_bytes(1, "JPEG", size=(32, 24)), b"x" * 5000], pa.binary()
            ),
        },
    )

    (batch,) = read(path, {"url": "url", "image": "jpg"}, max_image_bytes=4000)

    assert batch.images[1] is None
    assert batch.urls[1] == "https://a.example/2.jpg"
    ((row, signal, field, reason),) = [
        (p.row, p.signal, p.field, p.reason) for p in batch.unchecked
    ]
    assert (row, signal, field) == (1, "image", "jpg")
    assert reason == "image is larger than 4000 bytes"
    assert batch.images[0] is not None


def test_an_undecodable_image_is_unchecked_while_its_url_still_matches(tmp_path):
    path = write(
        tmp_path / "a.parquet",
        {
            "url": ["https://alice.example/art/1.jpg"],
            "jpg": pa.array([truncated_png(1)], pa.binary()),
        },
    )
    snapshot = RegistrySnapshot.build(
        revision=1, url_claims=[(5, "https://alice.example/art/1.jpg")]
    )

    (batch,) = read(path, {"url": "url", "image": "jpg"})
    matches, problems = snapshot.match(batch)

    assert [(m.row, str(m.kind)) for m in matches] == [(0, "url")]
    assert [(p.row, p.signal, p.field) for p in problems] == [(0, "image", "jpg")]


def test_batches_with_images_are_cut_to_bound_memory(tmp_path, monkeypatch):
    from workers.engine.manifests import _parquet

    monkeypatch.setattr(_parquet, "MAX_BATCH_IMAGE_BYTES", 8_000)
    images = [image_bytes(i, "PNG") for i in range(8)]
    path = write(tmp_path / "a.parquet", {"png": pa.array(images, pa.binary())})

    batches = read(path, {"image": "png"})

    assert len(batches) > 1
    assert max(sum(len(i) for i in b.images) for b in batches) <= 2 * 8_000
    assert [i for b in batches for i in b.images] == images
