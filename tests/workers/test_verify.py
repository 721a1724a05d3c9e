"""Geometric verification: edited copies verify, other pictures do not."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.workers import verify_images as vi
from workers.engine import verify as V
from workers.engine.perceptual import Levels

SIZE = (640, 480)


@pytest.fixture(scope="module")
def original() -> Image.Image:
    return vi.artwork(3, SIZE)


@pytest.fixture(scope="module")
def reference(original) -> V.Features:
    return V.extract(original)


EDITS = {
    "crop and rotation": lambda im: vi.rotate(
        vi.crop(im, 0.15, 0.05, 0.05, 0.2), 8, expand=False
    ),
    "rotation with expanded canvas": lambda im: vi.rotate(im, -6, expand=True),
    "off-centre crop": lambda im: vi.crop(im, 0.2, 0.2, 0.05, 0.05),
    "quarter size": lambda im: vi.resize(im, 0.25),
    "resized JPEG": lambda im: vi.recompress(vi.resize(im, 0.5), "JPEG", 35),
    "WebP": lambda im: vi.recompress(im, "WEBP", 50),
    "darker, less contrast": lambda im: vi.tone(im, 0.75, 0.75),
    "brighter, more contrast": lambda im: vi.tone(im, 1.25, 1.25),
    "grayscale": vi.grayscale,
    "text watermark": vi.watermark,
    "stretched 10%": lambda im: vi.stretch(im, 1.1),
    "squeezed 10%": lambda im: vi.stretch(im, 1.0, 0.9),
    "letterboxed": vi.letterbox,
    "grey border": vi.frame,
    "quarter turn, letterboxed": lambda im: vi.letterbox(
        vi.rotate(im, 90, expand=True), 0.2
    ),
    "crop, rotation, JPEG": lambda im: vi.recompress(
        vi.rotate(vi.crop(im, 0.1, 0.1, 0.1, 0.1), -4, expand=True), "JPEG", 45
    ),
    "stretch, watermark, half size": lambda im: vi.resize(
        vi.watermark(vi.stretch(im, 0.92)), 0.5
    ),
    "grayscale, letterbox, WebP": lambda im: vi.recompress(
        vi.letterbox(vi.grayscale(im), 0.1, (255, 255, 255)), "WEBP", 40
    ),
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_an_edited_copy_verifies(original, reference, edit):
    result = V.verify(edit(original), reference)

    assert result.inliers >= V.DEFAULT_MIN_INLIERS, result
    assert result.verified()
    assert not result.mirrored
    assert result.model in ("similarity", "affine")


def test_the_transform_found_is_the_edit(original, reference):
    copy = vi.rotate(vi.resize(original, 0.5), 7, expand=False)

    result = V.verify(copy, reference)

    assert result.model == "similarity"
    # Both are worked on at 512 px, so a resized copy meets at scale 1; the
    # copy was turned 7 degrees counter-clockwise, so it turns back by -7.
    assert result.scale == pytest.approx(1.0, abs=0.03)
    assert result.rotation == pytest.approx(-7.0, abs=1.0)


@pytest.mark.parametrize(
    "edit",
    [
        vi.mirror,
        lambda im: vi.mirror(
            vi.rotate(vi.crop(im, 0.1, 0.0, 0.0, 0.1), 5, expand=False)
        ),
    ],
    ids=["mirror", "mirrored crop and rotation"],
)
def test_a_mirrored_copy_verifies_as_mirrored(original, reference, edit):
    result = V.verify(edit(original), reference)

    assert result.verified(), result
    assert result.mirrored


def test_mirrored_query_features_are_tried_when_given(original, reference):
    copy = vi.mirror(original)
    features = V.extract(copy)

    without = V.verify(features, reference)
    with_mirror = V.verify(
        features, reference, mirrored_query=V.extract(copy, mirrored=True)
    )

    assert not without.verified()
    assert with_mirror.verified() and with_mirror.mirrored


def test_mirrored_query_features_can_be_made_only_when_the_mirror_is_tried(
    original, reference
):
    made = []

    def mirrored(image):
        def make():
            made.append(image)
            return V.extract(image, mirrored=True)

        return make

    plain = V.verify(V.extract(original), reference, mirrored_query=mirrored(original))
    copy = vi.mirror(original)
    flipped = V.verify(V.extract(copy), reference, mirrored_query=mirrored(copy))

    assert plain.verified() and not plain.mirrored
    assert flipped.verified() and flipped.mirrored
    assert made == [copy]  # the plain copy never needed its mirror


def test_a_mirror_try_can_be_turned_off(original, reference):
    result = V.verify(vi.mirror(original), reference, try_mirror=False)

    assert not result.verified()
    assert not result.mirrored


def test_query_features_verify_like_the_query_image(original, reference):
    copy = vi.recompress(vi.crop(original, 0.1, 0.1, 0.1, 0.1), "JPEG", 50)

    from_image = V.verify(copy, reference)
    from_features = V.verify(V.extract(copy), reference)

    assert from_features.inliers == from_image.inliers
    assert from_features.verified()


@pytest.mark.parametrize("seed", [4, 5, 6, 7])
def test_an_unrelated_artwork_does_not_verify(reference, seed):
    result = V.verify(vi.artwork(seed, SIZE), reference)

    assert result.inliers < V.DEFAULT_MIN_INLIERS, result
    assert not result.verified()


@pytest.mark.parametrize("seed", [3, 8, 9])
def test_a_lookalike_with_its_shapes_moved_does_not_verify(seed):
    reference = V.extract(vi.artwork(seed, SIZE))

    result = V.verify(vi.lookalike(seed, SIZE), reference)

    assert result.inliers < V.DEFAULT_MIN_INLIERS, result


def test_matching_descriptors_at_random_places_buy_no_inliers(reference):
    # Every descriptor matches its twin exactly, but the places are noise:
    # no plausible transform lays them on the reference's.
    rng = np.random.default_rng(0)
    places = rng.uniform(
        0, [reference.width, reference.height], size=reference.keypoints.shape
    ).astype(np.float32)
    scrambled = V.Features(
        keypoints=places,
        descriptors=reference.descriptors,
        kind=reference.kind,
        width=reference.width,
        height=reference.height,
    )

    result = V.verify(scrambled, reference)

    assert result.matches > 500
    assert result.inliers < V.DEFAULT_MIN_INLIERS // 2, result


def test_akaze_features_verify_an_edited_copy(original):
    reference = V.extract(original, kind="akaze")
    copy = vi.rotate(vi.crop(original, 0.1, 0.1, 0.1, 0.1), 5, expand=True)

    result = V.verify(copy, reference)

    assert reference.kind == "akaze"
    assert result.verified(), result


DEGENERATE = {
    "constant": Image.new("RGB", (640, 480), (90, 140, 200)),
    "tiny": vi.resize(vi.artwork(1), 12 / 512),
    "one pixel tall": vi.artwork(1, (640, 480)).crop((0, 0, 640, 1)),
    "empty": Image.new("RGB", (0, 0)),
    "constant gray array": np.full((300, 200), 7, np.uint8),
}


@pytest.mark.parametrize("image", DEGENERATE.values(), ids=DEGENERATE.keys())
def test_a_degenerate_image_gives_zero_inliers_without_raising(reference, image):
    features = V.extract(image)

    assert len(features) == 0
    assert V.verify(image, reference).inliers == 0
    assert V.verify(vi.artwork(3, SIZE), features).inliers == 0
    assert V.verify(image, features).inliers == 0


def test_features_round_trip_through_bytes(reference):
    mirrored = V.extract(vi.artwork(3, SIZE), mirrored=True)

    for features in (reference, mirrored):
        data = features.to_bytes()
        restored = V.Features.from_bytes(data)

        assert restored.kind == features.kind
        assert (restored.width, restored.height) == (features.width, features.height)
        assert restored.mirrored == features.mirrored
        np.testing.assert_array_equal(restored.descriptors, features.descriptors)
        np.testing.assert_allclose(restored.keypoints, features.keypoints, atol=1 / 32)
        np.testing.assert_array_equal(restored.thumb, features.thumb)
        # Compact: 2 x uint16 per keypoint, the descriptor, the thumbnail for
        # the appearance check, a small header.
        thumb = V.THUMB_SIDE * V.THUMB_SIDE
        assert len(data) < len(features) * (4 + 32) + thumb + 2048


def test_restored_features_verify_as_the_originals_do(original, reference):
    restored = V.Features.from_bytes(reference.to_bytes())
    copy = vi.rotate(original, 4, expand=False)

    assert V.verify(copy, restored).inliers == pytest.approx(
        V.verify(copy, reference).inliers, rel=0.1
    )


@pytest.mark.parametrize(
    "data", [b"", b"not an npz", np.zeros(3).tobytes()], ids=["empty", "text", "raw"]
)
def test_other_bytes_are_not_features(data):
    with pytest.raises(ValueError, match="not verify features"):
        V.Features.from_bytes(data)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: V.extract(Image.new("RGB", (9, 9)), kind="sift"), "kind must be"),
        (lambda: V.extract(Image.new("RGB", (9, 9)), max_side=32), "max_side"),
        (lambda: V.extract(np.zeros((9, 9), np.float32)), "uint8"),
        (lambda: V.extract(np.zeros((9, 9, 4), np.uint8)), "H x W"),
        (lambda: V.extract("picture.png"), "PIL image or a numpy array"),
    ],
    ids=["kind", "max_side", "dtype", "channels", "path"],
)
def test_invalid_arguments_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_verify_rejects_mixed_kinds_and_a_zero_threshold(original, reference):
    with pytest.raises(ValueError, match="min_inliers"):
        V.verify(original, reference, min_inliers=0)
    with pytest.raises(ValueError, match="akaze"):
        V.verify(V.extract(original, kind="akaze"), reference)


# Coverage: the inliers must spread over the overlap of both images, so that
# pictures sharing only a template do not verify on the shared part.

TEMPLATES = {
    "card frame": vi.card,
    "portrait backdrop": vi.backdrop,
    "flag canton": vi.canton,
}


@pytest.mark.parametrize("template", TEMPLATES.values(), ids=TEMPLATES.keys())
def test_pictures_sharing_only_a_template_do_not_verify(template):
    reference = V.extract(template(30, SIZE))

    result = V.verify(template(31, SIZE), reference)

    # The shared part matches: inliers alone would pass.
    assert result.inliers >= 4 * V.DEFAULT_MIN_INLIERS, result
    assert result.coverage < V.DEFAULT_MIN_COVERAGE, result
    assert not result.verified()
    # Coverage alone rejects the pair, without the appearance check.
    assert not result.verified(min_agreement=-1.0)


@pytest.mark.parametrize("template", TEMPLATES.values(), ids=TEMPLATES.keys())
def test_a_copy_of_a_picture_on_a_template_verifies(template):
    picture = template(30, SIZE)

    result = V.verify(vi.recompress(picture, "JPEG", 60), V.extract(picture))

    assert result.coverage >= 0.9, result
    assert result.verified()


CROPS = {  # (left, top) of a crop keeping 77.5 % of each side: 60 % of the area
    "top left": (0.0, 0.0),
    "centre": (0.1125, 0.1125),
    "bottom right": (0.225, 0.225),
    "bottom left": (0.0, 0.225),
}


@pytest.mark.parametrize("picture", [vi.artwork, vi.texture], ids=["art", "texture"])
@pytest.mark.parametrize("where", CROPS.values(), ids=CROPS.keys())
def test_a_crop_keeping_60_percent_of_the_area_verifies(picture, where):
    original = picture(8, SIZE)
    left, top = where
    copy = vi.crop(original, left, top, 0.225 - left, 0.225 - top)

    result = V.verify(copy, V.extract(original))

    # Measured over the part the crop kept, not over the whole reference.
    assert result.coverage >= 0.8, result
    assert result.verified()


def test_the_coverage_threshold_is_a_parameter():
    reference = V.extract(vi.backdrop(30, SIZE))
    result = V.verify(vi.backdrop(31, SIZE), reference, min_coverage=0.0)

    assert not result.verified(min_agreement=-1.0)
    assert result.verified(min_agreement=-1.0, min_coverage=0.0)
    with pytest.raises(ValueError, match="min_coverage"):
        V.verify(vi.backdrop(31, SIZE), reference, min_coverage=1.5)


# A template with its picture left out: the shared part matches point for
# point and the flat ground left in the picture's place was once skipped by
# the appearance check as "too flat to say"; a cell the reference fills and
# the copy leaves flat now disagrees.


@pytest.mark.parametrize("badge", [1, 2, 3, 4])
def test_a_flag_without_its_badge_does_not_verify(badge):
    result = V.verify(vi.ensign(None), V.extract(vi.ensign(badge)))

    assert result.inliers >= 4 * V.DEFAULT_MIN_INLIERS, result
    # Coverage sees a copy (the badge is a small part); the appearance does not.
    assert result.coverage >= V.DEFAULT_MIN_COVERAGE, result
    assert result.agreement is not None and result.agreement < 0.5, result
    assert not result.verified()


def test_a_blank_card_frame_does_not_verify_against_a_filled_card():
    result = V.verify(vi.blank_card(border=0.08), V.extract(vi.card(5, border=0.08)))

    assert result.coverage >= V.DEFAULT_MIN_COVERAGE, result
    assert not result.verified(), result


# Small pictures: a 96 px icon turned a few degrees on a larger canvas keeps
# 40-70 inliers, but the canvas's corners add keypoints the original lacks, so
# they cover too little of the copy (coverage about 0.5). Its thumbnail,
# aligned densely on the original's, agrees: where the registry turns the
# dense alignment on (min_alignment), that verifies it.

ALIGN = 0.95


def turned(im):
    return vi.recompress(vi.rotate(im, 6, expand=True), "JPEG", 40)


SMALL_EDITS = {
    "turned 6 degrees on a larger canvas, JPEG": turned,
    "mirrored, turned 6 degrees on a larger canvas, JPEG": lambda im: vi.mirror(
        turned(im)
    ),
}


@pytest.mark.parametrize("seed", [2, 6])
@pytest.mark.parametrize("edit", SMALL_EDITS, ids=SMALL_EDITS.keys())
def test_a_small_copy_the_keypoints_miss_verifies_by_dense_alignment(seed, edit):
    original = vi.icon(seed)
    reference = V.extract(original)
    copy = SMALL_EDITS[edit](original)

    default = V.verify(copy, reference)
    result = V.verify(copy, reference, min_alignment=ALIGN)

    assert not default.verified(), default  # off unless asked for
    assert default.alignment is None  # not tried
    assert default.coverage < V.DEFAULT_MIN_COVERAGE
    assert result.verified(min_alignment=ALIGN), result
    assert not result.verified(), result  # the figures need the threshold
    assert result.model == "dense"
    assert result.alignment is not None and result.alignment >= ALIGN
    # The keypoints' own figures, which do not verify it on their own.
    assert (result.inliers, result.agreement, result.coverage) == (
        default.inliers,
        default.agreement,
        default.coverage,
    )
    assert result.inliers >= V.DENSE_MIN_INLIERS
    assert result.mirrored == edit.startswith("mirrored")
    assert abs(abs(result.rotation) - 6) < 1.5, result


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_another_small_picture_does_not_align(seed):
    reference = V.extract(vi.icon(seed))

    result = V.verify(turned(vi.icon(seed + 50)), reference, min_alignment=0.5)

    assert not result.verified(min_alignment=0.5), result


@pytest.mark.parametrize("seed", [1, 3])
def test_a_copy_under_the_inlier_floor_is_not_aligned(seed):
    # A third of the size keeps 4-6 inliers: below DENSE_MIN_INLIERS, where
    # generic shapes (rings, lit spheres) align with each other as well.
    original = vi.icon(seed)

    result = V.verify(vi.resize(original, 0.3), V.extract(original), min_alignment=0.5)

    assert result.inliers < V.DENSE_MIN_INLIERS, result
    assert result.alignment is None
    assert not result.verified(min_alignment=0.5)


def test_the_dense_mirror_is_tried_only_where_the_keypoints_mirror_was():
    copy = vi.mirror(turned(vi.icon(2)))
    reference = V.extract(vi.icon(2))

    for result in (
        V.verify(copy, reference, try_mirror=False, min_alignment=ALIGN),
        V.verify(V.extract(copy), reference, min_alignment=ALIGN),
    ):
        assert not result.verified(min_alignment=ALIGN), result
    assert V.verify(copy, reference, min_alignment=ALIGN).verified(min_alignment=ALIGN)


def test_the_lone_glyph_has_no_alignment_to_speak_of():
    glyph = Image.new("RGB", (96, 96), (255, 255, 255))
    ImageDraw.Draw(glyph).rectangle((40, 40, 56, 56), fill=(0, 0, 0))

    result = V.verify(vi.resize(glyph, 0.3), V.extract(glyph), min_alignment=0.5)

    assert result.alignment is None
    assert not result.verified(min_alignment=0.5)


def test_a_flag_with_its_badge_verifies_its_own_copy():
    original = vi.ensign(2)

    result = V.verify(
        vi.recompress(vi.resize(original, 0.5), "JPEG", 40), V.extract(original)
    )

    assert result.agreement is not None and result.agreement >= 0.9, result
    assert result.verified(), result


# Low contrast: thumbnails of a dark texture, marble or snow are too flat for
# the appearance check; coverage decides instead.

LOW_CONTRAST = {
    "dark slate": {},
    "snow": {"mean": 235, "tint": (0.96, 0.98, 1.0)},
    "marble": {"mean": 200, "tint": (1.0, 0.97, 0.93)},
}


@pytest.mark.parametrize("look", LOW_CONTRAST.values(), ids=LOW_CONTRAST.keys())
@pytest.mark.parametrize("quality", [None, 80], ids=["lossless", "JPEG"])
def test_a_low_contrast_texture_verifies_its_grayscale_copy(look, quality):
    original = vi.grain(1, SIZE, **look)
    copy = vi.grayscale(original)
    if quality:
        copy = vi.recompress(copy, "JPEG", quality)

    result = V.verify(copy, V.extract(original))

    assert result.agreement is None  # appearance cannot be measured
    assert result.inliers >= 300, result
    assert result.coverage >= 0.9, result
    assert result.verified()


@pytest.mark.parametrize("look", LOW_CONTRAST.values(), ids=LOW_CONTRAST.keys())
def test_another_low_contrast_texture_does_not_verify(look):
    result = V.verify(vi.grain(2, SIZE, **look), V.extract(vi.grain(1, SIZE, **look)))

    assert result.inliers < V.DEFAULT_MIN_INLIERS, result
    assert not result.verified()


def test_low_contrast_pictures_sharing_a_frame_do_not_verify():
    # A frame of one texture around other textures: the appearance cannot be
    # measured, so coverage alone must reject the shared frame.
    width, height = SIZE

    def framed(content: int) -> Image.Image:
        out = vi.grain(1, SIZE)
        out.paste(vi.grain(content, (width - 116, height - 116)), (58, 58))
        return out

    result = V.verify(framed(3), V.extract(framed(2)))

    assert result.agreement is None
    assert result.inliers >= 4 * V.DEFAULT_MIN_INLIERS, result
    assert result.coverage < V.DEFAULT_MIN_COVERAGE, result
    assert not result.verified()


# One-axis stretches: a similarity lays only a band of the picture right, so
# the affine model is fitted when the similarity fails the checks.

STRETCHES = {
    "artwork taller 10%": (lambda: vi.artwork(2, SIZE), 1.0, 1.1, None),
    "artwork narrower 10%": (lambda: vi.artwork(2, SIZE), 0.9, 1.0, None),
    "artwork narrower 8%": (lambda: vi.artwork(29, SIZE), 0.92, 1.0, None),
    "texture taller 10%": (lambda: vi.texture(1, SIZE), 1.0, 1.1, None),
    "texture narrower 10%": (lambda: vi.texture(1, SIZE), 0.9, 1.0, None),
    "texture narrower 8%, smaller JPEG": (lambda: vi.texture(29, SIZE), 0.92, 1, 70),
    "texture wider 8%": (lambda: vi.texture(3, SIZE), 1.08, 1.0, None),
}


@pytest.mark.parametrize(
    ("picture", "x", "y", "quality"), STRETCHES.values(), ids=STRETCHES.keys()
)
def test_a_one_axis_stretch_verifies_with_an_affine_model(picture, x, y, quality):
    original = picture()
    copy = vi.stretch(original, x, y)
    if quality:
        copy = vi.recompress(vi.resize(copy, 0.6), "JPEG", quality)

    result = V.verify(copy, V.extract(original))

    assert result.verified(), result
    assert result.model == "affine"
    assert result.coverage >= 0.9, result
    assert result.agreement is not None and result.agreement >= 0.9, result


# Letterboxes: trimming stops at the picture, even where its edge is flat and
# close to the bar's colour.


def test_a_letterboxed_copy_with_a_dark_flat_edge_still_verifies():
    original = vi.dark_edge(3)
    copy = vi.recompress(vi.letterbox(original, 0.15), "JPEG", 90)

    result = V.verify(copy, V.extract(original))

    assert result.verified(), result


def test_the_levels_default_to_the_verification_thresholds():
    levels = Levels()

    assert levels.min_inliers == V.DEFAULT_MIN_INLIERS
    assert levels.min_agreement == V.DEFAULT_MIN_AGREEMENT
    assert levels.min_coverage == V.DEFAULT_MIN_COVERAGE


def test_a_picture_sharing_only_an_edge_strip_does_not_verify(original, reference):
    # The right quarter of the work at the left edge of another picture: the
    # strip matches point for point, but neither picture lies mostly on the
    # other, which no edit we match does (a crop lies inside its original, a
    # border or a collage holds all of it).
    width, height = original.size
    strip = original.crop((width * 3 // 4, 0, width, height))
    collage = vi.texture(21, (width, height)).convert("RGB")
    collage.paste(strip, (0, 0))

    shared = V.verify(collage, reference)

    assert shared.inliers >= V.DEFAULT_MIN_INLIERS, shared  # the strip matched
    assert shared.coverage == 0.0 and not shared.verified(), shared
    # The same strip alone is a crop of the work, and a crop verifies.
    assert V.verify(strip, reference).verified()
