"""training/dataset.py on a handful of drawn images: the image rules, the
de-duplication and the exclusion of near-copies of benchmark and held-out
images (no apt, no network: the packages' files are written here)."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFont

from tests.images import drawing
from training import dataset as ds
from training import packages


def save(image: Image.Image, path: Path, fmt: str = "PNG", **kw: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, fmt, **kw)
    return path


def candidate(package: str, source: str, image: Image.Image, tmp: Path) -> ds.Candidate:
    path = save(image, tmp / package / source)
    record = ds.examine_image(str(path))
    assert "reason" not in record, record
    record["source"] = source
    (found,) = ds.candidates_of(package, [record])
    return found


def jpeg_copy(image: Image.Image, quality: int = 70) -> Image.Image:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    out.seek(0)
    return Image.open(out).convert("RGB")


# --- the image rules ---------------------------------------------------------


@pytest.mark.parametrize(
    "image, reason",
    [
        (drawing(1, (63, 200)), "small"),
        (drawing(2, (400, 90)), "aspect"),
        (Image.new("RGB", (200, 200), "white"), "blank"),
        (Image.new("RGBA", (200, 200), (0, 0, 0, 0)), "blank"),
        (drawing(3, (64, 64)), None),
        (drawing(4, (256, 64)), None),
    ],
)
def test_it_applies_the_benchmark_rules_with_a_64_px_minimum(
    tmp_path: Path, image: Image.Image, reason: str | None
) -> None:
    record = ds.examine_image(str(save(image, tmp_path / "x.png")))
    assert record.get("reason") == reason


def test_it_rejects_a_file_that_does_not_decode(tmp_path: Path) -> None:
    path = save(drawing(5), tmp_path / "x.png")
    path.write_bytes(path.read_bytes()[:200])
    assert ds.examine_image(str(path))["reason"].startswith("undecodable")


def test_it_saves_a_jpeg_of_at_most_384_px_with_transparency_on_white(
    tmp_path: Path,
) -> None:
    image = drawing(6, (1000, 600)).convert("RGBA")
    image.putalpha(Image.new("L", image.size, 255))
    image.paste((0, 0, 0, 0), (0, 0, 100, 100))  # a transparent corner
    out = tmp_path / "out"
    out.mkdir()
    record = ds.examine_image(str(save(image, tmp_path / "x.png")), out=out)
    assert (record["width"], record["height"]) == (1000, 600)
    with Image.open(out / record["file"]) as saved:
        assert saved.format == "JPEG"
        assert saved.size == (384, 230)
        assert min(saved.convert("RGB").getpixel((5, 5))) > 245


def test_equal_pixels_in_another_encoding_have_the_same_digest(
    tmp_path: Path,
) -> None:
    image = drawing(7)
    png = ds.examine_image(str(save(image, tmp_path / "a.png")))
    webp = ds.examine_image(
        str(save(image, tmp_path / "a.webp", "WEBP", lossless=True))
    )
    assert png["sha256"] == webp["sha256"]
    assert png["pdq"] == webp["pdq"]


# --- de-duplication within TRAIN ---------------------------------------------


def test_it_keeps_one_of_each_exact_or_near_copy_mirrors_included(
    tmp_path: Path,
) -> None:
    original = drawing(10)
    train = [
        candidate("a-data", "original.png", original, tmp_path),
        candidate("a-data", "other.png", drawing(11), tmp_path),
        candidate("b-data", "same-pixels.png", original, tmp_path),
        candidate("b-data", "reencoded.png", jpeg_copy(original), tmp_path),
        candidate(
            "b-data",
            "mirrored.png",
            original.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
            tmp_path,
        ),
        candidate("b-data", "smaller.png", original.resize((160, 120)), tmp_path),
        candidate("b-data", "third.png", drawing(12), tmp_path),
    ]
    selection = ds.select(train, [], cap=100)
    assert selection.outcome == [
        "kept",
        "kept",
        "exact",
        "near",
        "near",
        "near",
        "kept",
    ]
    assert selection.near_of == {3: 0, 4: 0, 5: 0}


def test_the_cap_keeps_each_packages_first_images(tmp_path: Path) -> None:
    train = [
        candidate("a-data", f"{i}.png", drawing(20 + i), tmp_path) for i in range(3)
    ] + [candidate("b-data", "0.png", drawing(30), tmp_path)]
    assert ds.select(train, [], cap=2).outcome == ["kept", "kept", "cap", "kept"]


def test_an_image_over_the_cap_does_not_hide_its_copy_elsewhere(
    tmp_path: Path,
) -> None:
    train = [
        candidate("a-data", "0.png", drawing(40), tmp_path),
        candidate("a-data", "1.png", drawing(41), tmp_path),
        candidate("b-data", "1.png", jpeg_copy(drawing(41)), tmp_path),
    ]
    assert ds.select(train, [], cap=1).outcome == ["kept", "cap", "kept"]


# --- near-copies of BENCHMARK and HELD_OUT -------------------------------------


def test_it_drops_near_copies_of_reference_images_and_names_them(
    tmp_path: Path,
) -> None:
    stamp = drawing(50)
    refs = [
        candidate("tuxpaint-stamps-default", "stamp.png", stamp, tmp_path),
        candidate("openclipart-png", "clip.png", drawing(51), tmp_path),
    ]
    train = [
        candidate("a-data", "unrelated.png", drawing(52), tmp_path),
        candidate(
            "a-data",
            "stamp-mirrored.png",
            stamp.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((200, 150)),
            tmp_path,
        ),
        candidate("b-data", "clip.jpg.png", jpeg_copy(drawing(51), 50), tmp_path),
    ]
    selection = ds.select(train, refs, cap=100)
    assert selection.outcome == ["kept", "reference", "reference"]
    assert {i: m[0] for i, m in selection.reference_match.items()} == {1: 0, 2: 1}
    assert all(
        m[1] == "pdq" and m[2] <= ds.REF_PDQ for m in selection.reference_match.values()
    )


def test_hamming_pairs_finds_exactly_the_pairs_within_the_radius() -> None:
    rng = np.random.default_rng(1)
    entries = rng.integers(0, 256, (300, 32), dtype=np.uint8)
    queries = entries[:50].copy()
    flips = (
        rng.integers(0, 256, (50, 32), dtype=np.uint8)
        & rng.integers(0, 256, (50, 32), dtype=np.uint8)
        & rng.integers(0, 256, (50, 32), dtype=np.uint8)
    )
    queries ^= flips  # about 32 bits away from their entry
    distances = np.unpackbits(queries[:, None, :] ^ entries[None, :, :], axis=2).sum(2)
    for radius in (20, 31, 40):
        q, e, d = ds.hamming_pairs(queries, entries, radius, batch=7)
        expected = {
            (int(i), int(j))
            for i, j in zip(*np.nonzero(distances <= radius), strict=True)
        }
        assert set(zip(q.tolist(), e.tolist(), strict=True)) == expected
        assert (d == distances[q, e]).all()


def test_the_embedding_hook_finds_train_images_close_to_reference_images() -> None:
    def embed(images: list[Image.Image]) -> np.ndarray:
        return np.stack(
            [
                np.asarray(i.convert("L").resize((16, 16)), np.float32).ravel() - 128
                for i in images
            ]
        )

    train = [drawing(60), drawing(61), drawing(62)]
    refs = [jpeg_copy(drawing(61)), drawing(63)]
    matches = ds.embedding_matches(
        iter(train), iter(refs), embed, threshold=0.95, batch=2
    )
    assert [(i, j) for i, j, _ in matches] == [(1, 0)]
    assert matches[0][2] > 0.95


# --- files, archives, families, licences, glyphs --------------------------------


def rcc_bytes(files: dict[str, bytes]) -> bytes:
    """A version-1 Qt resource file with the files in its root directory."""
    names, data, nodes = b"", b"", []
    for name, blob in files.items():
        encoded = name.encode("utf-16-be")
        nodes.append((len(names), len(data)))
        names += struct.pack(">HI", len(name), 0) + encoded
        data += struct.pack(">I", len(blob)) + blob
    tree = struct.pack(">IHII", 0, 2, len(files), 1)
    for name_offset, data_offset in nodes:
        tree += struct.pack(">IHHHI", name_offset, 0, 0, 0, data_offset)
    head = 20
    return (
        b"qres"
        + struct.pack(">IIII", 1, head, head + len(tree), head + len(tree) + len(data))
        + tree
        + data
        + names
    )


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_it_reads_images_inside_pk3_archives_and_qt_resource_files(
    tmp_path: Path,
) -> None:
    root = tmp_path / "pkg"
    save(drawing(70), root / "usr/share/game/a.png")
    (root / "usr/share/game/data.pk3").write_bytes(b"")
    with zipfile.ZipFile(root / "usr/share/game/data.pk3", "w") as z:
        z.writestr("textures/wall.png", png(drawing(71)))
        z.writestr("textures/wall.tga", b"not read")
    (root / "usr/share/game/pics.rcc").write_bytes(
        rcc_bytes({"tree.png": png(drawing(72)), "notes.txt": b"x"})
    )
    (root / "usr/share/game/link.png").symlink_to("a.png")
    sources = ds.image_sources(root)
    assert sources == [
        "usr/share/game/a.png",
        "usr/share/game/data.pk3!textures/wall.png",
        "usr/share/game/pics.rcc!tree.png",
    ]
    for source, seed in zip(sources, (70, 71, 72), strict=True):
        record = ds._examine_task(("pkg", str(root), source, "", 1))
        assert record["source"] == source
        assert record["sha256"] == ds.rules.pixel_digest(drawing(seed))


def test_families_are_numbered_series_or_directories() -> None:
    assert (
        ds.group_of("g", "usr/share/g/units/orc_01.png") == "g:usr/share/g/units/orc*"
    )
    assert (
        ds.group_of("g", "usr/share/g/units/orc_02.png") == "g:usr/share/g/units/orc*"
    )
    assert ds.group_of("g", "usr/share/g/cards/7.png") == "g:usr/share/g/cards/"
    assert ds.group_of("g", "x/data.pk3!skins/elf-3.png") == "g:x/data.pk3/skins/elf*"
    assert ds.group_of("f", "a.ttf#glyphs/0007/3") == "f:0007"


def test_sampling_is_seeded_and_keeps_a_family_together() -> None:
    sources = [f"d{d}/frame_{i:02d}.png" for d in range(5) for i in range(10)]
    order = ds.sampling_order("p", sources, seed=1)
    assert sorted(order) == sorted(sources)
    assert order == ds.sampling_order("p", list(reversed(sources)), seed=1)
    assert order != ds.sampling_order("p", sources, seed=2)
    families = [s.split("/")[0] for s in order]
    assert [families[i * 10] for i in range(5)] == list(dict.fromkeys(families))


def test_train_packages_skip_manuals() -> None:
    assert ds.train_skipped("usr/share/doc/HTML/en/kalzium/screen.png")
    assert ds.train_skipped("usr/share/help/C/game/figures/window.png")
    assert not ds.train_skipped("usr/share/games/game/docks/boat.png")


def test_licence_names_come_from_machine_readable_copyright_files() -> None:
    dep5 = (
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Upstream-Name: game\n\nFiles: *\nCopyright: 2020 A\nLicense: GPL-2+\n\n"
        "Files: data/*\nCopyright: 2020 B\nLicense: CC-BY-SA-3.0\n\n"
        "License: GPL-2+\n text\n\nLicense: CC-BY-SA-3.0\n text\n"
    )
    assert ds.licence_names(dep5) == "GPL-2+, CC-BY-SA-3.0"
    assert ds.licence_names("This package was debianized by...\n") == "see copyright"


def test_glyph_renders_share_a_family_background_and_differ_in_text(
    tmp_path: Path,
) -> None:
    # Pillow's own default font (Aileron), so the test needs no font package
    font = ImageFont.load_default(size=20)
    root = tmp_path / "fonts-test"
    (root / "fonts").mkdir(parents=True)
    (root / "fonts/Aileron.ttf").write_bytes(font.path.getvalue())
    sources = ds.glyph_sources("fonts-test", root, count=16, seed=1)
    assert len(sources) == 16
    assert sources[0] == "fonts/Aileron.ttf#glyphs/0000/0"
    renders = [ds.render_glyphs(root, s, seed=1) for s in sources[:8]]
    assert len({text for _, text in renders}) == 8
    assert len({image.size for image, _ in renders}) == 1
    again, text = ds.render_glyphs(root, sources[3], seed=1)
    assert text == renders[3][1]
    assert again.tobytes() == renders[3][0].tobytes()
    corners = {image.getpixel((0, 0)) for image, _ in renders}
    assert len(corners) == 1  # one background for the family
    records = [ds._examine_task(("fonts-test", str(root), s, "", 1)) for s in sources]
    train = ds.candidates_of("fonts-test", records)
    assert len(train) == 16
    assert ds.select(train, [], cap=100).outcome.count("kept") >= 14


def test_the_partition_lists_are_disjoint() -> None:
    train, bench, held = (
        set(packages.TRAIN),
        set(packages.BENCHMARK),
        set(packages.HELD_OUT),
    )
    assert not (train & bench or train & held or bench & held)
    assert {"wesnoth-1.16-data", "tuxpaint-stamps-default"} <= held
    assert ds.rules.SOURCES.keys() == bench
    setup = (ds.ROOT / "bench/quality/setup.sh").read_text()
    listed = setup.split("PACKAGES=(\n")[1].split("\n)\n")[0]
    names = {line.split("#")[0].strip() for line in listed.splitlines()}
    assert names - {""} == bench


def test_the_card_is_written_from_a_report(tmp_path: Path) -> None:
    record = {
        "role": "train",
        "version": "1.0-1",
        "licence": "GPL-2+",
        "licence_from": "a-data",
        "files": 10,
        "examined": 10,
        "usable": 8,
        "rejected": {"small": 2},
        "kept": 6,
        "duplicates": {"exact": 1, "near": 1},
        "near_copies_dropped": {
            "total": 0,
            "low_pdq_quality": 0,
            "by_reference_package": {},
        },
        "over_cap": 0,
    }
    name = next(iter(packages.TRAIN))
    report = {
        "packages": {name: record},
        "references": {"frogatto-data": {"role": "held_out", "unavailable": "gone"}},
        "totals": {
            "kept": 6,
            "candidates": 8,
            "reference_images": 0,
            "exact_duplicates": 1,
            "near_duplicates": 1,
            "near_copies_dropped": 0,
            "over_cap": 0,
            "groups": 2,
        },
        "parameters": {
            "seed": 1,
            "cap": 6000,
            "pool": 1.5,
            "min_side": 64,
            "max_side": 384,
            "jpeg_quality": 95,
            "dup_pdq": 31,
            "ref_pdq": 40,
            "ref_phash": 6,
            "glyphs_per_font_package": 320,
            "jobs": 2,
        },
        "seconds": {"fetch": 1, "examine": 2, "select": 3, "total": 6},
    }
    card = tmp_path / "DATA.md"
    ds.write_card(report, card)
    text = card.read_text()
    assert f"| {name} | 1.0-1 | GPL-2+ |" in text
    assert "| frogatto-data | held_out | - | - | - | - | unavailable: gone |" in text


def test_the_embedding_pass_drops_train_images_near_a_benchmark_image(
    tmp_path: Path,
) -> None:
    """With the shipped descriptor: a training image that is a recompressed copy
    of a benchmark image leaves the index, the others stay, and what was dropped
    is listed with the reference it is near."""
    var = tmp_path / "training"
    reference = drawing(71)
    bench = next(iter(packages.BENCHMARK))
    save(reference, var / "root" / bench / "art" / "ref.png")
    (var / "cache").mkdir(parents=True)
    (var / "cache" / f"{bench}.jsonl").write_text(
        '{"rules": "test"}\n{"source": "art/ref.png", "sha256": "x"}\n'
    )
    lines = []
    for n, image in enumerate([drawing(72), jpeg_copy(reference, 80), drawing(73)]):
        path = f"images/pkg/{n:05d}.jpg"
        save(image.convert("RGB"), var / path, "JPEG", quality=95)
        lines.append(f'{{"path": "{path}", "package": "pkg", "source": "s{n}"}}\n')
    (var / "index.jsonl").write_text("".join(lines))

    result = ds.embedding_pass(ds.descriptor_model_path(), 0.995, var=var)

    assert (result["train_images"], result["reference_images"]) == (3, 1)
    kept = [line for line in (var / "index.jsonl").read_text().splitlines() if line]
    assert [k.split('"source": ')[1] for k in kept] == ['"s0"}', '"s2"}']
    (excluded,) = (var / "embedding-exclusions.jsonl").read_text().splitlines()
    assert '"near_source": "art/ref.png"' in excluded
    assert (var / "index-before-embedding.jsonl").read_text() == "".join(lines)
