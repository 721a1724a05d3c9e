"""Known answers for the canonical form, every PDQ variant, the tail model and
the levels."""

from __future__ import annotations

import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageOps

from tests.images import drawing
from tests.workers import verify_images as vi
from workers.engine import perceptual as P
from workers.engine.hashes import hamming


def gradient() -> Image.Image:
    y, x = np.mgrid[0:256, 0:384]
    arr = np.stack([x * 255 // 383, y, ((x + y) * 7) % 256], axis=-1).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


# Computed once with pdqhash 0.2.8 and Pillow as pinned, on gradient() prepared
# (256 px, nothing to trim); hex in Meta's bit order.
KNOWN_VARIANTS = {
    "canonical": "540401015555abaaaaaabfff2aaaf3eb87d5ef6bba00fcea8040eeb90012fcb5",
    "rot90": "4aaa3ad54baa28d54a7f3d00cae82835ca9e3d05ca903d58ca9c3d5eca8b7d7b",
    "rot180": "555551415555aaaa5d55faaad050bbaaf0a0a7ebaf00aeea0a15aeba5554aead",
    "rot270": "99fd306b9ea822559f2877809e3d229f9f4822ad9e4523b09ec961d49eceaaaa",
    "flipy": "aaab04045555eeaaaaab2eaa3ffb8c94a55fd0aeea519314ebcb93664103d368",
    "flipx": "02aaaaab55554455ffff0455eaaa2455f2aa5a15ab0159bdaa9f59cca8875943",
    "transpose": "1dfda1551f75a5311e75a4d51fe475c01f9525d81f5524871f54a4811f5265c5",
    "transverse": "17f5ee8215f5ef821d3da877157de96215d5ea5215d5aa0e1555a80b1554e849",
    "trimmed": "540401015555abaaaaaabfff2aaaf3eb87d5ef6bba00fcea8040eeb90012fcb5",
    "rot+3": "dd9955568899a222cd9977665d9d226aa89d7f6a5555ff6aa881baaa00155556",
    "rot-3": "08ccaa23fdcc5557a8cc663755cc77378dcc2a3755542a37a88855575554aaab",
    "rot+6": "a98b5554aaab4554008975560089fff6aa896ff6555d64b2a88dfffa01555556",
    "rot-6": "55ceff21aaee4021addc22239ddc4003aaac75675d5ceae7a88c62a75554aaab",
    "rot+9": "d55a72a5a88a7fb5888a0134ddcb2374aa895776d5c92b36aa8daffa00555556",
    "rot-9": "fd8f5770808e5561a88e2e21ddde4621aa9c2223dddc7663ab9c52a75554aaab",
    "rotx+3": "1eaa5555bfaa0051bfab0040abab0040abbf0002bf7f00aaab1f55faaaa3fffe",
    "rotx-3": "aaab00002aab1514aaab1555aaab5515aaaa5555aa2a5555fefa28a5fffeaaab",
    "rotx+6": "4554a8ab5d5eaca1df7e2401bbea6411416ae91017ebaa00aaaf016aaaabfffe",
    "rotx-6": "1001f556000bedd48e2b2954aaab21d445abb95544aa5555bffa5435bffeaaab",
    "rotx+9": "aaa97d52120dad6391546eab89562ea9e93ed25145aaaa94556b00aaaaabaffe",
    "rotx-9": "ffe9aa0755697a16c5493956cc0343d4bcabc30410abd741003e555dabfe5aab",
    "crop95": "ef820200ffd655550128d5ff143877ff067cfd550a407cfd018afcdd00225dd7",
    "crop90": "beef0010aeaf00105545ffef1555f7fe4440fd000055f8ff0188fcfd0103fdf6",
    "crop85": "ee0aa228e60baaaaffff5555288875550e0a5d55097f57d5098a575d09835557",
    "crop80": "abfeffffabfaffbfabaa010054554180545558aa51550bc055950b3955910b16",
    "crop80@0,0": "0000aa6e0000aafa01005455feff1055feff04d5fbff5795ff370545ff394543",
    "crop80@0,100": "54000000545500005455feffabaabaaaa3aaaeaaa9aaab7faacaaf9baaa3effe",
    "crop80@100,0": "0000a8d40000abea01005455feff4555faff51d5fb7f56d5ffba5431faa35456",
    "crop80@100,100": "fe2a5555feff5455feffaaaa0100aeff0800b0aa0120ba7f01d0baab014ebbac",  # noqa: E501
    "crop85@0,50": "fdffffff5f5dffff555500008b2a0880b3aa0680fc2a0062becf004caef90043",
    "crop85@100,50": "0000000080080000aaaaffffd555fffff155f3ff56d4fd81541afff15402fff6",
    "crop85@50,0": "7fdfd557055a555d0000aaaacf7e8a2af32ea6aafc2aa06afccfa008fcf3a002",
    "crop85@50,100": "20ca555d00cc55550000aaaaddff8aaaf9ffa32ad6ffaa88d71aaaa0ff22aaa6",
}

EVERY_VARIANT = list(KNOWN_VARIANTS)


def test_every_scheme_names_only_known_variants():
    for name, variants in P.SCHEMES.items():
        assert P.variant_names_valid(variants) == [], name
        assert set(variants) <= set(KNOWN_VARIANTS), name
    assert P.DEFAULT_SCHEME in P.SCHEMES


@pytest.mark.parametrize("variant", EVERY_VARIANT)
def test_each_variant_matches_its_known_answer(variant):
    hashes = P.pdq_variants(P.prepare(gradient()), [variant])
    assert hashes[variant][0].hex() == KNOWN_VARIANTS[variant]


def test_variants_computed_together_equal_variants_computed_alone():
    together = P.pdq_variants(P.prepare(gradient()), EVERY_VARIANT)
    assert {k: v[0].hex() for k, v in together.items()} == KNOWN_VARIANTS


def test_an_unknown_variant_is_refused():
    with pytest.raises(ValueError, match=r"unknown variants: rot\+45x"):
        P.pdq_variants(gradient(), ["canonical", "rot+45x"])


def test_dihedral_variants_are_the_hashes_of_the_turned_pixels():
    img = P.prepare(drawing(3))
    arr = np.asarray(img)
    transforms = {
        "canonical": arr,
        "rot90": np.rot90(arr, 1),
        "rot180": np.rot90(arr, 2),
        "rot270": np.rot90(arr, 3),
        "flipy": arr[::-1],
        "flipx": arr[:, ::-1],
        "transpose": arr.transpose(1, 0, 2),
        "transverse": np.rot90(arr, 2).transpose(1, 0, 2),
    }
    variants = P.pdq_variants(img, P.DIHEDRAL)
    for name, transformed in transforms.items():
        vector, _ = pdqhash.compute(np.ascontiguousarray(transformed))
        assert variants[name][0] == np.packbits(vector.astype(np.uint8)).tobytes()


def test_a_mirrored_copy_lands_next_to_the_flip_variant():
    art = drawing(6)
    registry = P.pdq_variants(P.prepare(art), P.DIHEDRAL)
    query = P.query_pdq(P.prepare(ImageOps.mirror(art)))
    assert hamming(query["canonical"], registry["flipx"][0]) <= 8
    assert hamming(query["flipx"], registry["canonical"][0]) <= 8


def test_trim_borders_removes_a_frame_a_mat_and_a_letterbox():
    art = drawing(5)
    plain = P.trim_borders(art).size
    framed = ImageOps.expand(art, border=30, fill=(0, 0, 0))
    boxed = ImageOps.pad(art, (320, 320), color=(255, 255, 255))
    matted = ImageOps.expand(ImageOps.expand(art, 10, (250, 250, 250)), 20, (0, 0, 0))
    for bordered in (framed, boxed, matted):
        width, height = P.trim_borders(bordered).size
        # within the row of blended pixels dropped at each cut
        assert abs(width - plain[0]) <= 2 and abs(height - plain[1]) <= 2


def test_trim_borders_keeps_a_logo_on_a_plain_background():
    logo = Image.new("RGB", (400, 300), (255, 255, 255))
    logo.paste((200, 0, 0), (190, 140, 210, 160))
    assert P.trim_borders(logo).size == (400, 300)


def sky_on_left(img: Image.Image) -> Image.Image:
    return img.transpose(Image.Transpose.ROTATE_90)


def pillarbox(img: Image.Image) -> Image.Image:
    # Bars left and right: the letterbox of the picture turned a quarter.
    rotated = img.transpose(Image.Transpose.ROTATE_270)
    return vi.letterbox(rotated, 0.3).transpose(Image.Transpose.ROTATE_90)


FLAT_EDGE_BARS = {
    "letterbox": (lambda im: im, lambda im: vi.letterbox(im, 0.15)),
    "letterbox, JPEG": (
        lambda im: im,
        lambda im: vi.recompress(vi.letterbox(im, 0.15), "JPEG", 90),
    ),
    "wide letterbox": (lambda im: im, lambda im: vi.letterbox(im, 0.6)),
    "pillarbox, sky on the left": (sky_on_left, pillarbox),
}


@pytest.mark.parametrize(
    ("turn", "bars"), FLAT_EDGE_BARS.values(), ids=FLAT_EDGE_BARS.keys()
)
def test_trimming_stops_at_a_flat_picture_edge_next_to_the_bar(turn, bars):
    # The top of the picture is a dark, flat sky: every pixel is within the
    # trim's tolerance of the black bar, yet it is the picture.
    picture = turn(vi.dark_edge(3))

    trimmed = P.trim_borders(bars(picture))

    assert P.trim_borders(picture).size == picture.size  # nothing to trim
    # within the blended line dropped at each cut
    assert abs(trimmed.width - picture.width) <= 2, trimmed.size
    assert abs(trimmed.height - picture.height) <= 2, trimmed.size


@pytest.mark.parametrize("seed", [3, 4])
def test_a_letterboxed_copy_with_a_flat_edge_trims_like_its_original(seed):
    # What the hashes see: both prepared (256 px), then trimmed.
    picture = vi.dark_edge(seed)
    copy = vi.recompress(vi.letterbox(picture, 0.15), "JPEG", 75)

    trimmed = P.trim_borders(P.prepare(copy)).size
    original = P.trim_borders(P.prepare(picture)).size

    assert abs(trimmed[0] - original[0]) <= 2 and abs(trimmed[1] - original[1]) <= 2


def test_a_bordered_copy_meets_the_trimmed_variant():
    art = drawing(4)
    registry = P.pdq_variants(P.prepare(art), ["canonical", "trimmed"])
    for bordered in (
        ImageOps.expand(art, 40, (0, 0, 0)),
        ImageOps.pad(art, (320, 400), color=(255, 255, 255)),
    ):
        query = P.query_pdq(P.prepare(bordered))
        assert hamming(query["trimmed"], registry["trimmed"][0]) <= 16
        assert hamming(query["canonical"], registry["canonical"][0]) > 31


def test_a_query_with_nothing_to_trim_has_no_trimmed_hash():
    assert "trimmed" not in P.query_pdq(P.prepare(gradient()))


def test_prepare_downscales_to_its_longer_side():
    big = gradient().resize((1024, 683))
    assert max(P.prepare(big).size) == P.PREPARE_MAX_SIDE


def test_the_query_mirror_is_the_registry_flip():
    img = P.prepare(gradient())
    query = P.query_pdq(img)
    registry = P.pdq_variants(img, ["canonical", "flipx"])
    assert query["canonical"] == registry["canonical"][0]
    assert query["flipx"] == registry["flipx"][0]


def test_tail_model_fits_the_lower_tail_and_extrapolates():
    # log10 P(d <= x) = -9 + 0.1 x up to x = 60, then the bulk far away
    total = 10**7
    cdf = [round(10 ** (-9 + 0.1 * d) * total) for d in range(61)]
    distances = np.repeat(np.arange(61), np.diff([0, *cdf]))
    distances = np.concatenate([distances, np.full(total - cdf[-1], 128)])
    model, points = P.TailModel.fit(distances, tail_fraction=1e-3, min_count=5)
    assert model.slope == pytest.approx(0.1, rel=0.02)
    assert model.probability(40) == pytest.approx(1e-5, rel=0.2)
    # beyond what was measured: extrapolated along the fitted line
    assert model.probability(0) == pytest.approx(1e-9, rel=0.5)
    assert model.distance_for(1e-7) == 20
    assert model.measured_to == 1 / total
    assert all(cdf <= 1e-3 and count >= 5 for _, count, cdf in points)


def test_tail_model_needs_tail_points():
    with pytest.raises(ValueError, match="tail points"):
        P.TailModel.fit(np.full(1000, 100))


LEVELS = P.Levels(pdq_strong=31, phash_strong=4, min_inliers=16)


@pytest.mark.parametrize(
    ("algorithm", "distance", "inliers", "level"),
    [
        ("pdq", 70, 40, "verified"),  # far hashes, but the features agree
        ("pdq", 10, 40, "verified"),
        ("pdq", 10, 3, "strong"),  # verification failed, the hashes alone suffice
        ("pdq", 10, None, "strong"),
        ("pdq", 31, None, "strong"),
        ("pdq", 32, None, "possible"),  # hash-only: listed for review
        ("pdq", 50, 15, None),  # both images seen, they do not agree
        ("phash", 4, None, "strong"),
        ("phash", 5, None, "possible"),
        ("phash", 5, 0, None),
    ],
)
def test_level_for(algorithm, distance, inliers, level):
    assert (
        P.level_for(
            algorithm=algorithm,
            distance=distance,
            inliers=inliers,
            levels=LEVELS,
            agreement=0.9,
        )
        == level
    )


@pytest.mark.parametrize("agreement", [None, 0.2])
def test_inliers_without_agreeing_appearance_are_not_verified(agreement):
    # a shared frame or logo: many inliers, the pictures themselves differ
    level = P.level_for(
        algorithm="pdq", distance=50, inliers=80, levels=LEVELS, agreement=agreement
    )
    assert level is None


@pytest.mark.parametrize(
    ("agreement", "coverage", "level"),
    [
        (0.9, 0.9, "verified"),
        # too flat to compare the appearance: the inliers' coverage decides
        (None, 0.9, "verified"),
        (None, 0.3, None),  # a shared frame on a flat picture
        (0.9, 0.3, None),  # a shared part that happens to agree
        (0.2, 0.9, None),
        (0.9, None, "verified"),  # coverage not measured: as before it
        (None, None, None),
    ],
)
def test_verified_needs_coverage_and_an_agreeing_appearance(agreement, coverage, level):
    assert LEVELS.min_coverage == 0.6
    assert (
        P.level_for(
            algorithm="pdq",
            distance=50,
            inliers=80,
            levels=LEVELS,
            agreement=agreement,
            coverage=coverage,
        )
        == level
    )


def test_a_low_quality_registered_image_is_never_strong_by_hash():
    def level(inliers):
        return P.level_for(
            algorithm="pdq",
            distance=0,
            inliers=inliers,
            levels=LEVELS,
            low_quality=True,
            agreement=0.9,
        )

    assert level(None) == "possible"
    assert level(3) is None
    assert level(40) == "verified"


def test_scale_box_lays_a_trim_on_a_bigger_copy_without_taking_in_the_cut():
    assert P.scale_box((0, 0, 256, 144), (256, 144), (1920, 1080)) == (0, 0, 1920, 1080)
    left, top, right, bottom = P.scale_box((0, 18, 256, 126), (256, 144), (1920, 1080))
    assert (left, right) == (0, 1920)
    assert top >= 18 * 1920 / 256 and bottom <= 126 * 1920 / 256
    assert bottom - top >= (126 - 18) * 1920 / 256 - 2
