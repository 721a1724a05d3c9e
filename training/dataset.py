"""The copy-detection descriptor's training images: artwork from Debian packages.

    .venv/bin/python training/dataset.py [--jobs 2] [--cap 6000] [--write-card]

Concept. training/packages.py splits Debian packages three ways: TRAIN (drawn
from), BENCHMARK (bench/quality's images) and HELD_OUT (independent checks).
Every package is fetched with `apt-get download` and unpacked with `dpkg -x`
under var/training/root/<package>/ (never installed; a package already
unpacked is not fetched again). Every PNG, JPEG and WebP in it is a candidate,
including those inside zip-family archives (.pk3, .zip, .wz) and Qt resource
files (.rcc), named `archive!member`. The font packages of GLYPH_FONTS yield
rendered glyphs and short words instead (deliberate hard negatives).

Each candidate goes through bench/quality/dataset.py's rules (its
`check_image`, with a shorter side of at least `MIN_SIDE`): decodable, at most
100 MP, aspect <= 4, not blank, transparency composited onto white. A usable
image is normalised to JPEG quality 95 (4:4:4), longer side <= `MAX_SIDE`
(Lanczos, never upscaled), and hashed on that normalised image with the
engine's own functions (workers/engine/perceptual.py): PDQ of the image, its
mirror and its border-trimmed form, and pHash of the image and its mirror.

Selection, in TRAIN's package order (earlier packages win ties), each package
in its seeded order:
  1. drop any image within PDQ `REF_PDQ` or pHash `REF_PHASH` of any BENCHMARK
     or HELD_OUT image (either side mirrored; trimmed forms too);
  2. drop exact duplicates (SHA-256 of the decoded full-size RGB);
  3. drop near-duplicates: within PDQ `DUP_PDQ` of an image already kept, as
     it is or mirrored;
  4. keep at most `--cap` images a package.
The Hamming searches are exact (faiss IndexBinaryFlat range search).
`embedding_exclusions` is the hook for a second pass once a model exists.

Sampling. A package's files are grouped into families (`group_of`: a numbered
series, else a directory); families are visited in a seeded order, up to
`CHUNK` files of each per round, so a cap keeps whole families where it can and
a sampler can batch a family together. A package stops being examined once it
has `POOL` x cap distinct usable images.

Resumable. Each package's examined files go to var/training/cache/<package>.jsonl
(one line each, in order) and its normalised JPEGs to var/training/cache/<package>/;
a rerun continues where the cache ends. The cache's first line names the rules
and the package version; a change of either starts the package again.

Output: var/training/images/<package>/NNNNN.jpg (hard links into the cache),
var/training/index.jsonl, var/training/report.json, var/training/exclusions.jsonl
(every dropped near-copy and what it was near); `--write-card` also writes
training/DATA.md.

Limits: TGA, DDS, BMP and SVG files of TRAIN packages are not read (the
benchmark's rules; reference packages' DDS and TGA textures are); a package
whose .deb is over 1.5 GB is skipped; hashes only catch copies a perceptual
hash sees (a crop of one tile from a sprite sheet is not caught: that is what
the embedding pass is for).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import multiprocessing
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, TypedDict

import faiss
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from training import packages  # noqa: E402
from workers.engine import perceptual  # noqa: E402


def _load_bench_rules() -> Any:
    # bench/ is scripts, not a package: load its module by path, once.
    name = "bench_quality_dataset"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, ROOT / "bench" / "quality" / "dataset.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


rules = _load_bench_rules()

VAR = ROOT / "var" / "training"
CARD = ROOT / "training" / "DATA.md"

MIN_SIDE = 64
MAX_SIDE = 384
JPEG_QUALITY = 95
CAP = 6000
POOL = 1.5  # examine a package until it has POOL x cap distinct usable images
CHUNK = 64  # files of one family per sampling round
SEED = 1
DUP_PDQ = 31
REF_PDQ = 40
REF_PHASH = 6
LOW_QUALITY = 50  # PDQ's own quality score: below it the hash says little
MAX_DEB_BYTES = 1_500_000_000
GLYPHS_PER_FONT_PACKAGE = 320
GLYPH_FAMILY = 8  # renders sharing a background and layout, differing in text
EXTENSIONS = rules.EXTENSIONS
# BENCHMARK and HELD_OUT packages are also read for the texture formats games
# ship (0ad-data's art is DDS inside a zip): excluding near-copies of more of
# their images only makes the exclusion stricter. TRAIN keeps the bench rules.
REFERENCE_EXTENSIONS = (*EXTENSIONS, ".dds", ".tga")
ZIP_ARCHIVES = (".pk3", ".zip", ".wz")
QT_RESOURCES = (".rcc",)
MEMBER = re.compile(r"^(.+?\.(?:pk3|zip|wz|rcc))!(.+)$", re.IGNORECASE)
GLYPHS = "#glyphs/"
FONT_EXTENSIONS = (".ttf", ".otf", ".ttc")
# Path components skipped in TRAIN packages: manuals, whose translations repeat
# the same screenshots of program windows (bench/quality skips "doc" too).
# BENCHMARK and HELD_OUT packages are hashed whole.
TRAIN_SKIP_PARTS = frozenset({"doc", "help"})
# Bump when the order of examination or a hash changes: old caches are redone.
CACHE_FORMAT = 1


class Record(TypedDict, total=False):
    """One examined file, as cached (reason set when rejected)."""

    source: str
    reason: str
    sha256: str
    width: int
    height: int
    pdq: str
    pdq_flip: str
    pdq_trim: str
    quality: int
    phash: str
    phash_flip: str
    file: str  # the normalised JPEG under the package's cache folder
    text: str  # what a glyph render shows


class PackageUnavailable(RuntimeError):
    """The package cannot be had: not in the apt sources, or too large."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    licence: str
    licence_from: str  # the package whose copyright file says it
    root: Path


@dataclass
class Candidate:
    """A usable image of one package, ready for selection."""

    package: str
    source: str
    sha256: str
    pdq: str
    pdq_flip: str
    pdq_trim: str
    quality: int
    phash: str
    phash_flip: str
    group: str = ""
    file: str = ""
    width: int = 0
    height: int = 0


@dataclass
class Selection:
    kept: list[int]
    outcome: list[str]  # per candidate: kept, reference, exact, near, cap
    reference_match: dict[int, tuple[int, str, int]]  # -> (ref, kind, distance)
    near_of: dict[int, int] = field(default_factory=dict)  # -> the kept one


# --- fetching ----------------------------------------------------------------


def package_fetch(
    name: str, *, var: Path = VAR, keep_debs: bool = False, licence: bool = True
) -> Package | None:
    """Download and unpack one package under var/root/<name>, once; with its
    licence (`package_licence`) unless licence is False (then None).

    Raises PackageUnavailable when apt has no such package or its .deb is over
    MAX_DEB_BYTES, and subprocess.CalledProcessError when apt or dpkg fails.
    """
    roots = var / "root"
    meta = roots / f"{name}.json"
    if meta.exists():
        return package_licence(name, var=var) if licence else None
    size = _apt_size(name)
    if size > MAX_DEB_BYTES:
        raise PackageUnavailable(f"too large ({size / 1e9:.1f} GB .deb)")
    debs = var / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    deb = _deb_file(debs, name)
    if deb is None:
        log(f"{name}: apt-get download ({size / 1e6:.0f} MB)")
        subprocess.run(
            ["apt-get", "download", "-q", name],
            cwd=debs,
            check=True,
            capture_output=True,
            timeout=3600,
        )
        deb = _deb_file(debs, name)
        if deb is None:
            raise PackageUnavailable("apt-get download left no .deb")
    version = _dpkg_field(deb, "Version")
    partial = roots / f"{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    log(f"{name}: dpkg -x {deb.name}")
    subprocess.run(["dpkg", "-x", str(deb), str(partial)], check=True, timeout=3600)
    shutil.rmtree(roots / name, ignore_errors=True)
    partial.rename(roots / name)
    meta.write_text(json.dumps({"name": name, "version": version}))
    if not keep_debs:
        deb.unlink()
    return package_licence(name, var=var) if licence else None


def package_licence(name: str, *, var: Path = VAR) -> Package:
    """The unpacked package with its licence, read once from its copyright file
    and remembered in var/root/<name>.json. Run after every package is unpacked:
    a -data package's copyright file is often its main package's."""
    roots = var / "root"
    meta = roots / f"{name}.json"
    data = json.loads(meta.read_text())
    if "licence" not in data:
        text, source = copyright_text(roots / name, name, var=var)
        data["licence"] = (
            licence_names(text) if text is not None else "no copyright file"
        )
        data["licence_from"] = source
        meta.write_text(json.dumps(data))
    return Package(
        name=name,
        version=data["version"],
        licence=data["licence"],
        licence_from=data["licence_from"],
        root=roots / name,
    )


def _apt_size(name: str) -> int:
    out = subprocess.run(
        ["apt-cache", "show", "--no-all-versions", name],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    ).stdout
    m = re.search(r"^Size: (\d+)$", out, re.MULTILINE)
    if not m:
        raise PackageUnavailable("not in the configured apt sources")
    return int(m[1])


def _deb_file(debs: Path, name: str) -> Path | None:
    found = sorted(debs.glob(f"{name}_*.deb"))
    return found[-1] if found else None


def _dpkg_field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), name],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.strip()


def copyright_text(root: Path, name: str, *, var: Path = VAR) -> tuple[str | None, str]:
    """(the package's copyright file, the package it came from).

    -data packages often link /usr/share/doc/<name> to the doc folder of the
    package they belong to; then that package's copyright file is fetched
    (its .deb downloaded to a temporary folder and read, not unpacked).
    """
    doc = root / "usr" / "share" / "doc" / name
    if doc.is_symlink():
        return _copyright_of(PurePosixPath(os.readlink(doc)).name, var=var)
    path = doc / "copyright"
    if path.is_symlink():
        target = PurePosixPath(os.readlink(path))
        inside = root / str(target).lstrip("/") if target.is_absolute() else None
        if inside is None:
            inside = (doc / str(target)).resolve()
        if inside.is_file() and root.resolve() in inside.resolve().parents:
            return inside.read_text(errors="replace"), name
        parts = target.parts
        other = parts[parts.index("doc") + 1] if "doc" in parts else ""
        return _copyright_of(other, var=var) if other else (None, name)
    if path.is_file():
        return path.read_text(errors="replace"), name
    return None, name


def _copyright_of(other: str, *, var: Path) -> tuple[str | None, str]:
    unpacked = var / "root" / other / "usr" / "share" / "doc" / other / "copyright"
    if unpacked.is_file() and not unpacked.is_symlink():
        return unpacked.read_text(errors="replace"), other
    cached = var / "root" / "_copyright" / other
    if cached.is_file():
        return cached.read_text(errors="replace"), other
    try:
        if _apt_size(other) > MAX_DEB_BYTES:
            return None, other
    except PackageUnavailable:
        return None, other
    with tempfile.TemporaryDirectory(dir=var) as tmp:
        subprocess.run(
            ["apt-get", "download", "-q", other],
            cwd=tmp,
            check=True,
            capture_output=True,
            timeout=3600,
        )
        deb = _deb_file(Path(tmp), other)
        if deb is None:
            return None, other
        tar = subprocess.run(
            ["dpkg-deb", "--fsys-tarfile", str(deb)],
            capture_output=True,
            check=True,
            timeout=3600,
        ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        try:
            member = archive.extractfile(f"./usr/share/doc/{other}/copyright")
        except KeyError:
            member = None
        if member is None:
            return None, other
        text = member.read().decode(errors="replace")
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(text)
    return text, other


def licence_names(text: str) -> str:
    """The `License:` short names of a machine-readable copyright file, in order
    of first appearance; "see copyright" when the file is free-form."""
    if not re.search(r"^Format:\s*\S*copyright-format", text, re.MULTILINE):
        return "see copyright"
    names: list[str] = []
    for m in re.finditer(r"^License:[ \t]*(\S[^\n]*)$", text, re.MULTILINE):
        short = " ".join(m[1].split())
        if short not in names:
            names.append(short)
    return ", ".join(names) if names else "see copyright"


# --- finding and reading images ------------------------------------------------


def image_sources(root: Path, extensions: Sequence[str] = EXTENSIONS) -> list[str]:
    """Paths (relative to root) of the images under it, and `archive!member` for
    images inside zip-family archives and Qt resource files. Sorted."""
    wanted = tuple(extensions)
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_symlink():
                continue  # the file it points to is listed under its own name
            rel = path.relative_to(root).as_posix()
            lower = name.lower()
            if lower.endswith(wanted):
                found.append(rel)
            elif lower.endswith(ZIP_ARCHIVES + QT_RESOURCES):
                try:
                    members = archive_members(path)
                except (OSError, ValueError, zipfile.BadZipFile, struct.error):
                    continue
                found.extend(
                    f"{rel}!{m}" for m in members if m.lower().endswith(wanted)
                )
    return sorted(found)


def archive_members(path: Path) -> list[str]:
    """File names inside a zip-family archive or a Qt resource (.rcc) file.

    Raises OSError, zipfile.BadZipFile or ValueError for an unreadable one.
    """
    if path.name.lower().endswith(QT_RESOURCES):
        return sorted(rcc_files(path.read_bytes()))
    with zipfile.ZipFile(path) as archive:
        return sorted(i.filename for i in archive.infolist() if not i.is_dir())


def rcc_files(data: bytes) -> dict[str, tuple[int, int]]:
    """A Qt resource file's files: path -> (offset of its data, flags).

    The format (qtbase src/tools/rcc/rcc.cpp): "qres", version, then offsets of
    the tree, the data and the names; tree nodes of 14 bytes (version 1) or 22
    (2 and 3: a modification time added). Raises ValueError if not an rcc file.
    """
    if data[:4] != b"qres":
        raise ValueError("not a Qt resource file")
    version, tree, payload, names = struct.unpack_from(">IIII", data, 4)
    node = 14 if version == 1 else 22

    def name_at(offset: int) -> str:
        (length,) = struct.unpack_from(">H", data, names + offset)
        start = names + offset + 6  # length, then a 4-byte hash
        return data[start : start + 2 * length].decode("utf-16-be")

    out: dict[str, tuple[int, int]] = {}
    stack = [(0, "")]
    seen = 0
    while stack:
        index, prefix = stack.pop()
        seen += 1
        if seen > 1_000_000:
            raise ValueError("rcc tree too large")
        base = tree + index * node
        name_offset, flags = struct.unpack_from(">IH", data, base)
        name = "" if index == 0 else name_at(name_offset)
        path = f"{prefix}/{name}" if prefix else name
        if flags & 2:  # directory
            count, first = struct.unpack_from(">II", data, base + 6)
            stack.extend((first + i, path) for i in range(count))
        else:
            (offset,) = struct.unpack_from(">I", data, base + 10)
            out[path] = (payload + offset, flags)
    return out


def rcc_read(data: bytes, entry: tuple[int, int]) -> bytes:
    """The bytes of one rcc file (zlib-compressed ones inflated).

    Raises ValueError for zstd-compressed entries (no zstd in Python 3.11).
    """
    offset, flags = entry
    (size,) = struct.unpack_from(">I", data, offset)
    blob = data[offset + 4 : offset + 4 + size]
    if flags & 4:
        raise ValueError("zstd-compressed rcc entry")
    if flags & 1:
        return zlib.decompress(blob[4:])
    return blob


_OPEN: dict[str, Any] = {}


def open_source(root: Path, source: str) -> str | IO[bytes]:
    """A path or file object for a source that is a file or an archive member."""
    m = MEMBER.match(source)
    if not m:
        return str(root / source)
    archive, member = m[1], m[2]
    key = str(root / archive)
    if key not in _OPEN:
        if len(_OPEN) > 8:
            for opened in _OPEN.values():
                if isinstance(opened, zipfile.ZipFile):
                    opened.close()
            _OPEN.clear()
        if archive.lower().endswith(QT_RESOURCES):
            data = (root / archive).read_bytes()
            _OPEN[key] = (data, rcc_files(data))
        else:
            _OPEN[key] = zipfile.ZipFile(root / archive)
    opened = _OPEN[key]
    if isinstance(opened, zipfile.ZipFile):
        return io.BytesIO(opened.read(member))
    data, files = opened
    return io.BytesIO(rcc_read(data, files[member]))


# --- families and sampling -----------------------------------------------------


def train_skipped(source: str) -> bool:
    """Whether a TRAIN package's file is left out by its path (TRAIN_SKIP_PARTS)."""
    return bool(set(PurePosixPath(source.replace("!", "/")).parts) & TRAIN_SKIP_PARTS)


def group_of(package: str, source: str) -> str:
    """The family an image belongs to: its numbered series (sprite frames,
    name_01..name_12) or else its directory (a card deck, one game's portraits,
    a colour set of one template). Glyph renders: their family of renders."""
    if GLYPHS in source:
        return f"{package}:{source.split(GLYPHS)[1].split('/')[0]}"
    path = PurePosixPath(source.replace("!", "/"))
    m = rules.FRAME_NAME.match(path.stem)
    if m and m[1]:
        return f"{package}:{path.parent}/{m[1]}*"
    return f"{package}:{path.parent}/"


def sampling_order(package: str, sources: Sequence[str], *, seed: int) -> list[str]:
    """Sources in the order they are examined and kept: families in a seeded
    order, up to CHUNK files of each family per round, sorted within one."""
    families: dict[str, list[str]] = defaultdict(list)
    for s in sorted(sources):
        families[group_of(package, s)].append(s)
    keys = sorted(families)
    random.Random(f"{seed}:{package}").shuffle(keys)
    out: list[str] = []
    start = 0
    while len(out) < len(sources):
        for k in keys:
            out.extend(families[k][start : start + CHUNK])
        start += CHUNK
    return out


# --- examining one image -------------------------------------------------------


def normalise(rgb: Image.Image, *, max_side: int = MAX_SIDE) -> Image.Image:
    """Longer side <= max_side (Lanczos, never upscaled)."""
    if max(rgb.size) > max_side:
        rgb = rgb.copy()
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return rgb


def image_hashes(image: Image.Image) -> dict[str, Any]:
    """PDQ (as is, mirrored, border-trimmed) with its quality, and pHash (as is,
    mirrored), hex, of a normalised image: the engine's canonical form."""
    prepared = perceptual.prepare(image)
    pdq = perceptual.pdq_variants(prepared, ("canonical", "flipx", "trimmed"))
    mirrored = prepared.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return {
        "pdq": pdq["canonical"][0].hex(),
        "pdq_flip": pdq["flipx"][0].hex(),
        "pdq_trim": pdq["trimmed"][0].hex(),
        "quality": pdq["canonical"][1],
        "phash": perceptual.phash_prepared(prepared).hex(),
        "phash_flip": perceptual.phash_prepared(mirrored).hex(),
    }


def examine_image(
    source: str | IO[bytes], *, out: Path | None = None, min_side: int = MIN_SIDE
) -> Record:
    """Check one image by the rules and hash it; save its normalised JPEG as
    out/<digest prefix>.jpg when `out` is given. Never raises for bad images:
    the record's `reason` says why it was rejected."""
    reason, rgb = rules.check_image(source, min_side=min_side)
    if reason or rgb is None:
        return {"reason": reason or "undecodable"}
    digest = rules.pixel_digest(rgb)
    small = normalise(rgb)
    record: Record = {
        "sha256": digest,
        "width": rgb.width,
        "height": rgb.height,
        **image_hashes(small),  # type: ignore[typeddict-item]  # keys are Record's
    }
    if out is not None:
        name = f"{digest[:32]}.jpg"
        small.save(out / name, "JPEG", quality=JPEG_QUALITY, subsampling=0)
        record["file"] = name
    return record


def _examine_task(task: tuple[str, str, str, str, int]) -> Record:
    package, root, source, out, seed = task
    text = None
    try:
        if GLYPHS in source:
            image, text = render_glyphs(Path(root), source, seed=seed)
            buffer = io.BytesIO()
            image.save(buffer, "PNG")
            buffer.seek(0)
            opened: str | IO[bytes] = buffer
        else:
            opened = open_source(Path(root), source)
    except Exception as exc:  # noqa: BLE001 - a broken member rejects that file
        return {"source": source, "reason": f"unreadable ({exc.__class__.__name__})"}
    record = examine_image(opened, out=Path(out) if out else None)
    record["source"] = source
    if text is not None:
        record["text"] = text
    return record


# --- glyph renders ---------------------------------------------------------------

LATIN_WORDS = (
    "ART ink Copy Draw paint Atlas River Forest Queen Tiger Zebra Moon Star Ocean "
    "Garden Pixel Music Rose Ember Frost Lumen Opera Vivid Quill Nyx Jazz Kiwi "
    "Maple Sable Echo Delta Omega Sigma Bravo Fox Owl Wolf Bear Hawk Lynx Zeit "
    "Haus Sol Luna Mar Cielo Fleur Rêve Ñandú Øre Straße Éclair Café Mañana OK "
    "NO GO 42 1984 A1 B2 XYZ QED"
).split()
SCRIPTS: dict[str, tuple[str, ...]] = {
    "latin": tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789&@?"),
    "words": LATIN_WORDS,
    "greek": tuple("ΑΒΓΔΘΛΞΠΣΦΨΩαβγδεζηθλμξπσφψω") + ("ΑΛΦΑ", "Λόγος", "ήλιος"),
    "cyrillic": tuple("БГДЖЗИЛПФЦЧШЩЭЮЯбгджзлфцшюя") + ("МИР", "Книга", "Дом"),
    "cjk": tuple(
        "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下"
    )
    + ("中国", "山水", "日月", "天地", "花鸟", "书法"),
    "arabic": ("سلام", "كتاب", "بيت", "شمس", "قمر", "نور", "بحر", "حب", "ع", "ق"),
    "devanagari": ("नमस्ते", "भारत", "पानी", "सूरज", "घर", "किताब", "प्रेम", "क", "ॐ"),
    "symbols": tuple("★☆♠♣♥♦☀☁☂☃☎✈✉✿❀♞♛♜♝♚☯☮⚓⚡⚽⚙✂✎✔✘♫♪"),
    "digits": ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "12:34", "88", "-7"),
}
_COVERAGE: dict[str, dict[str, tuple[str, ...]]] = {}


def font_files(root: Path) -> list[str]:
    """The TrueType/OpenType fonts a font package ships (relative paths)."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.suffix.lower() in FONT_EXTENSIONS and p.is_file() and not p.is_symlink()
    )


def glyph_sources(
    package: str, root: Path, *, count: int, seed: int, family: int = GLYPH_FAMILY
) -> list[str]:
    """`count` render specs (font path#glyphs/family/member), seeded."""
    fonts = [f for f in font_files(root) if _draws_something(root / f)]
    if not fonts:
        return []
    random.Random(f"{seed}:{package}:fonts").shuffle(fonts)
    families = max(1, count // family)
    return [
        f"{fonts[f % len(fonts)]}{GLYPHS}{f:04d}/{m}"
        for f in range(families)
        for m in range(family)
    ]


def _draws_something(path: Path) -> bool:
    """Whether Pillow reads the font and it draws one of SCRIPTS (GNU Unifont
    ships faces for the upper planes only, and some Pillow cannot read)."""
    try:
        return bool(_coverage(path))
    except OSError:
        return False


def _ink(font: ImageFont.FreeTypeFont, text: str) -> bytes:
    canvas = Image.new("L", (48 * max(1, len(text)), 64))
    ImageDraw.Draw(canvas).text((4, 4), text, font=font, fill=255)
    return canvas.tobytes()


def _coverage(path: Path) -> dict[str, tuple[str, ...]]:
    """Per script, the texts this font draws (not as its missing-glyph box)."""
    key = str(path)
    if key not in _COVERAGE:
        font = ImageFont.truetype(str(path), 32)
        missing = {_ink(font, "\U0010fffd"), _ink(font, "\uffff")}
        cover: dict[str, tuple[str, ...]] = {}
        for script, texts in SCRIPTS.items():
            ok = []
            for text in texts:
                glyphs = [_ink(font, ch) for ch in text if not ch.isspace()]
                if all(g not in missing and any(g) for g in glyphs):
                    ok.append(text)
            if len(ok) >= GLYPH_FAMILY:
                cover[script] = tuple(ok)
        _COVERAGE[key] = cover
    return _COVERAGE[key]


def _colour(rng: random.Random, *, dark: bool | None = None) -> tuple[int, int, int]:
    while True:
        c = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        lum = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
        if dark is None or (dark and lum < 100) or (not dark and lum > 160):
            return c


def _background(rng: random.Random, w: int, h: int) -> Image.Image:
    kind = rng.choice(["plain", "gradient", "noise", "stripes", "checks", "paper"])
    a = np.array(_colour(rng), np.float32)
    b = np.array(_colour(rng), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "plain":
        t = np.zeros((h, w), np.float32)
    elif kind == "gradient":
        angle = rng.uniform(0, np.pi)
        t = np.cos(angle) * xx / w + np.sin(angle) * yy / h
        t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
    elif kind == "noise":
        cells = rng.randrange(3, 12)
        grid = np.random.default_rng(rng.randrange(1 << 30)).random((cells, cells))
        t = np.asarray(
            Image.fromarray((grid * 255).astype(np.uint8)).resize(
                (w, h), Image.Resampling.BICUBIC
            ),
            np.float32,
        )
        t /= 255.0
    elif kind == "stripes":
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(8, 48)
        t = 0.5 + 0.5 * np.sin(
            (np.cos(angle) * xx + np.sin(angle) * yy) * 2 * np.pi / period
        )
    elif kind == "checks":
        size = rng.randrange(8, 48)
        t = ((xx // size + yy // size) % 2).astype(np.float32)
    else:  # paper: one colour and fine grain
        grain = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 1, (h, w))
        t = np.clip(0.5 + 0.15 * grain, 0, 1).astype(np.float32) * 0.4
    pixels = a[None, None, :] * (1 - t[..., None]) + b[None, None, :] * t[..., None]
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    if kind == "paper":
        image = image.filter(ImageFilter.GaussianBlur(0.6))
    return image


def render_glyphs(root: Path, source: str, *, seed: int) -> tuple[Image.Image, str]:
    """One glyph render: family-level choices (size, background, layout, colours,
    script, font) from the family's seed; the member picks the text.

    Raises OSError when the font cannot be read and ValueError when it draws
    none of the scripts.
    """
    font_rel, spec = source.split(GLYPHS)
    family, member = (int(x) for x in spec.split("/"))
    path = root / font_rel
    rng = random.Random(f"{seed}:{font_rel}:{family}")
    cover = _coverage(path)
    if not cover:
        raise ValueError("font draws none of the scripts")
    script = rng.choice(sorted(cover))
    texts = list(cover[script])
    rng.shuffle(texts)
    text = texts[member % len(texts)]
    w = rng.randrange(160, 385)
    h = max(96, min(384, int(w * rng.uniform(0.6, 1.6))))
    image = _background(rng, w, h)
    mean = float(np.asarray(image.convert("L")).mean())
    ink = _colour(rng, dark=mean > 128)
    stroke = rng.choice([0, 0, 0, 1, 2, 3])
    stroke_fill = _colour(rng, dark=mean <= 128)
    angle = rng.choice([0.0, 0.0, rng.uniform(-12, 12)])
    fill_w, fill_h = rng.uniform(0.55, 0.9), rng.uniform(0.45, 0.8)
    shadow = rng.random() < 0.25
    probe = ImageFont.truetype(str(path), 100)
    box = ImageDraw.Draw(image).textbbox((0, 0), text, font=probe, stroke_width=stroke)
    bw, bh = max(1, box[2] - box[0]), max(1, box[3] - box[1])
    size = max(8, int(100 * min(fill_w * w / bw, fill_h * h / bh)))
    font = ImageFont.truetype(str(path), size)
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    box = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
    x = (w - (box[2] - box[0])) / 2 - box[0]
    y = (h - (box[3] - box[1])) / 2 - box[1]
    if shadow:
        off = max(2, size // 25)
        draw.text((x + off, y + off), text, font=font, fill=(0, 0, 0, 110))
    draw.text(
        (x, y),
        text,
        font=font,
        fill=(*ink, 255),
        stroke_width=stroke,
        stroke_fill=(*stroke_fill, 255),
    )
    if angle:
        layer = layer.rotate(angle, resample=Image.Resampling.BICUBIC)
    image.paste(layer, mask=layer.getchannel("A"))
    return image, text


# --- examining a package, with its cache ---------------------------------------


def cache_key(package: str, version: str, *, seed: int) -> dict[str, Any]:
    return {
        "format": CACHE_FORMAT,
        "package": package,
        "version": version,
        "seed": seed,
        "min_side": MIN_SIDE,
        "max_side": MAX_SIDE,
        "jpeg_quality": JPEG_QUALITY,
        "bench_rules": [
            rules.MAX_PIXELS,
            rules.MAX_ASPECT,
            rules.MIN_STD,
            rules.MIN_INK,
        ],
        "chunk": CHUNK,
        "glyph_family": GLYPH_FAMILY,
    }


def examine_package(
    package: Package,
    order: Sequence[str],
    *,
    cache: Path,
    save: bool,
    limit: int | None,
    jobs: int,
    seed: int,
) -> list[Record]:
    """Records of `order`'s files, examined in order until `limit` distinct
    usable images (all when None), continuing the cache where it ends."""
    cache.mkdir(parents=True, exist_ok=True)
    lines = cache / f"{package.name}.jsonl"
    jpegs = cache / package.name
    key = cache_key(package.name, package.version, seed=seed)
    records: list[Record] = []
    if lines.exists():
        with lines.open() as f:
            head = f.readline()
            try:
                valid = json.loads(head) == {"key": key}
            except ValueError:
                valid = False
            if valid:
                for line in f:
                    try:
                        records.append(json.loads(line))
                    except ValueError:
                        break  # a line cut short by an interrupted run
        done = [r["source"] for r in records]
        if not valid or done != list(order[: len(done)]):
            records = []
    if not records:
        shutil.rmtree(jpegs, ignore_errors=True)
        lines.write_text(json.dumps({"key": key}) + "\n")
    else:
        # rewrite without a cut-short tail line
        lines.write_text(
            json.dumps({"key": key})
            + "\n"
            + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        )
    if save:
        jpegs.mkdir(parents=True, exist_ok=True)
    distinct = {r["sha256"] for r in records if "sha256" in r}
    todo = list(order[len(records) :])
    if limit is not None and len(distinct) >= limit:
        todo = []
    if todo:
        log(
            f"{package.name}: examining {len(todo):,} of {len(order):,} files"
            + (f" (until {limit:,} distinct usable)" if limit else "")
        )
        tasks = [
            (package.name, str(package.root), s, str(jpegs) if save else "", seed)
            for s in todo
        ]
        t0 = last = time.perf_counter()
        results = _imap(tasks, jobs)
        with lines.open("a") as out:
            for n, record in enumerate(results, 1):
                records.append(record)
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                if "sha256" in record:
                    distinct.add(record["sha256"])
                now = time.perf_counter()
                if now - last > 30 or n == len(tasks):
                    last = now
                    out.flush()
                    log(
                        f"  {package.name}: {n:,}/{len(tasks):,} "
                        f"({n / max(now - t0, 1e-9):.0f}/s), "
                        f"{len(distinct):,} distinct usable"
                    )
                if limit is not None and len(distinct) >= limit:
                    break
        results.close()  # stops the pool's workers now, not at garbage collection
    if save:
        wanted = {r["file"] for r in records if "file" in r}
        for stale in jpegs.glob("*.jpg"):
            if stale.name not in wanted:
                stale.unlink()
    return records


def _imap(tasks: list[tuple[str, str, str, str, int]], jobs: int) -> Iterator[Record]:
    if jobs <= 1:
        yield from map(_examine_task, tasks)
        return
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        yield from pool.imap(_examine_task, tasks, chunksize=4)


# --- Hamming searches and selection ----------------------------------------------


def _bits(hexes: Sequence[str], nbytes: int) -> np.ndarray:
    if not hexes:
        return np.zeros((0, nbytes), np.uint8)
    return np.frombuffer(bytes.fromhex("".join(hexes)), np.uint8).reshape(-1, nbytes)


def hamming_search(
    queries: np.ndarray, entries: np.ndarray, radius: int, *, batch: int = 4096
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every (query, entry) pair within `radius` bits, a batch of queries at a
    time: (query rows, entry rows, distances). Exact: faiss IndexBinaryFlat's
    range search, which keeps distances strictly below its threshold."""
    if len(queries) == 0 or len(entries) == 0:
        return
    index = faiss.IndexBinaryFlat(entries.shape[1] * 8)
    index.add(np.ascontiguousarray(entries))
    for start in range(0, len(queries), batch):
        chunk = np.ascontiguousarray(queries[start : start + batch])
        lims, dist, ids = index.range_search(chunk, radius + 1)
        counts = np.diff(lims).astype(np.int64)
        rows = np.repeat(np.arange(start, start + len(chunk), dtype=np.int64), counts)
        yield rows, ids.astype(np.int64), dist.astype(np.int64)


def hamming_pairs(
    queries: np.ndarray, entries: np.ndarray, radius: int, *, batch: int = 4096
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`hamming_search`'s pairs, all at once."""
    found = list(hamming_search(queries, entries, radius, batch=batch))
    if not found:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    q, e, d = zip(*found, strict=True)
    return np.concatenate(q), np.concatenate(e), np.concatenate(d)


def _closest(
    search: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    n: int,
    m: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per query image (rows modulo n), the closest entry image (rows modulo m)
    and its distance; -1 and a large distance where none."""
    best_d = np.full(n, 1 << 30, np.int64)
    best_j = np.full(n, -1, np.int64)
    for q, e, d in search:
        i, j = q % n, e % m
        order = np.lexsort((d, i))
        i, j, d = i[order], j[order], d[order]
        first = np.ones(len(i), bool)
        first[1:] = i[1:] != i[:-1]
        i, j, d = i[first], j[first], d[first]
        better = d < best_d[i]
        best_d[i[better]] = d[better]
        best_j[i[better]] = j[better]
    return best_j, best_d


def reference_matches(
    train: Sequence[Candidate], refs: Sequence[Candidate]
) -> dict[int, tuple[int, str, int]]:
    """Train index -> (ref index, "pdq" or "phash", distance) for every train
    image within REF_PDQ (PDQ) or REF_PHASH (pHash) of a reference image: the
    reference as is, mirrored or trimmed against the train image as is or
    trimmed. The closest match is kept (PDQ first)."""
    n, m = len(train), len(refs)
    if not n or not m:
        return {}
    entries = _bits(
        [r.pdq for r in refs] + [r.pdq_flip for r in refs] + [r.pdq_trim for r in refs],
        32,
    )
    queries = _bits([c.pdq for c in train] + [c.pdq_trim for c in train], 32)
    pdq_j, pdq_d = _closest(hamming_search(queries, entries, REF_PDQ), n, m)
    entries = _bits([r.phash for r in refs] + [r.phash_flip for r in refs], 8)
    queries = _bits([c.phash for c in train], 8)
    ph_j, ph_d = _closest(hamming_search(queries, entries, REF_PHASH), n, m)
    best: dict[int, tuple[int, str, int]] = {}
    for i in np.flatnonzero(ph_j >= 0).tolist():
        best[i] = (int(ph_j[i]), "phash", int(ph_d[i]))
    for i in np.flatnonzero(pdq_j >= 0).tolist():
        best[i] = (int(pdq_j[i]), "pdq", int(pdq_d[i]))
    return best


def near_duplicates(train: Sequence[Candidate]) -> tuple[np.ndarray, np.ndarray]:
    """Per train image, the others within DUP_PDQ, as they are or mirrored:
    (offsets, neighbours), image i's being neighbours[offsets[i]:offsets[i+1]]."""
    n = len(train)
    entries = _bits([c.pdq for c in train] + [c.pdq_flip for c in train], 32)
    queries = _bits([c.pdq for c in train], 32)
    rows, cols = [], []
    for q, e, _ in hamming_search(queries, entries, DUP_PDQ):
        j = e % n
        other = q != j
        rows.append(q[other].astype(np.int32))
        cols.append(j[other].astype(np.int32))
    row = np.concatenate(rows) if rows else np.zeros(0, np.int32)
    col = np.concatenate(cols) if cols else np.zeros(0, np.int32)
    order = np.argsort(row, kind="stable")
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(row, minlength=n), out=offsets[1:])
    return offsets, col[order]


def select(
    train: Sequence[Candidate], refs: Sequence[Candidate], *, cap: int
) -> Selection:
    """Which train candidates to keep (see the module docstring); candidates in
    priority order: an earlier one wins a duplicate."""
    matches = reference_matches(train, refs)
    offsets, neighbours = near_duplicates(train)
    kept: list[int] = []
    kept_mask = np.zeros(len(train), bool)
    kept_sha: set[str] = set()
    per_package: Counter[str] = Counter()
    outcome: list[str] = []
    near_of: dict[int, int] = {}
    for i, c in enumerate(train):
        near = neighbours[offsets[i] : offsets[i + 1]]
        near = near[kept_mask[near]]
        if i in matches:
            outcome.append("reference")
        elif c.sha256 in kept_sha:
            outcome.append("exact")
        elif len(near):
            outcome.append("near")
            near_of[i] = int(near[0])
        elif per_package[c.package] >= cap:
            outcome.append("cap")
        else:
            outcome.append("kept")
            kept.append(i)
            kept_mask[i] = True
            kept_sha.add(c.sha256)
            per_package[c.package] += 1
    return Selection(kept, outcome, matches, near_of)


# --- the embedding pass (hook) ---------------------------------------------------

Embed = Callable[[Sequence[Image.Image]], np.ndarray]


def embedding_matches(
    train: Iterable[Image.Image],
    refs: Iterable[Image.Image],
    embed: Embed,
    *,
    threshold: float,
    batch: int = 64,
) -> list[tuple[int, int, float]]:
    """(train index, ref index, cosine similarity) for every train image whose
    embedding is at least `threshold` similar to a reference image's.

    `embed` maps a batch of RGB images to an (n, d) float array; rows are
    L2-normalised here. Images are streamed in batches, so neither side needs
    to fit in memory as pixels. The second exclusion pass, for the model
    author: run it with the trained descriptor over var/training/index.jsonl
    and the BENCHMARK/HELD_OUT images (`reference_images` yields them).
    """

    def vectors(images: Iterable[Image.Image]) -> np.ndarray:
        out, chunk = [], []
        for image in images:
            chunk.append(image)
            if len(chunk) == batch:
                out.append(np.asarray(embed(chunk), np.float32))
                chunk = []
        if chunk:
            out.append(np.asarray(embed(chunk), np.float32))
        if not out:
            return np.zeros((0, 1), np.float32)
        v = np.ascontiguousarray(np.concatenate(out))
        faiss.normalize_L2(v)
        return v

    ref_v = vectors(refs)
    train_v = vectors(train)
    if not len(ref_v) or not len(train_v):
        return []
    index = faiss.IndexFlatIP(ref_v.shape[1])
    index.add(ref_v)
    lims, sims, ids = index.range_search(train_v, threshold)
    return [
        (i, int(ids[k]), float(sims[k]))
        for i in range(len(train_v))
        for k in range(lims[i], lims[i + 1])
    ]


def reference_images(*, var: Path = VAR) -> Iterator[tuple[str, str, Image.Image]]:
    """(package, source, normalised RGB) of every usable BENCHMARK and HELD_OUT
    image, re-read from var/root (needs the packages still unpacked)."""
    for name in (*packages.HELD_OUT, *packages.BENCHMARK):
        lines = var / "cache" / f"{name}.jsonl"
        if not lines.exists():
            continue
        with lines.open() as f:
            f.readline()
            for line in f:
                record = json.loads(line)
                if "sha256" not in record:
                    continue
                opened = open_source(var / "root" / name, record["source"])
                _, rgb = rules.check_image(opened, min_side=MIN_SIDE)
                if rgb is not None:
                    yield name, record["source"], normalise(rgb)


def train_images(*, var: Path = VAR) -> Iterator[tuple[dict[str, Any], Image.Image]]:
    """(index line, RGB) of every image in var/training/index.jsonl."""
    with (var / "index.jsonl").open() as f:
        for line in f:
            entry = json.loads(line)
            with Image.open(var / entry["path"]) as im:
                yield entry, im.convert("RGB")


def descriptor_model_path() -> Path:
    """The engine's shipped model (what `--embedding-pass` defaults to)."""
    from workers.engine import descriptor

    return descriptor.MODEL_DIR / descriptor.DEFAULT_MODEL


def embedding_pass(model: Path, threshold: float, *, var: Path = VAR) -> dict:
    """The second exclusion pass: drop every training image whose descriptor
    (whole image, the engine's pre-processing) is at least `threshold` similar
    to a BENCHMARK or HELD_OUT image's.

    Writes var/training/embedding-exclusions.jsonl (each dropped image, the
    reference it is near and the similarity), keeps the index as it was in
    index-before-embedding.jsonl and rewrites index.jsonl without them. A
    model trained before the pass has seen those images: the next run must
    train on the rewritten index.
    """
    from workers.engine import descriptor

    net = descriptor.Descriptor(model)
    started = time.perf_counter()
    refs: list[tuple[str, str]] = []

    def ref_images() -> Iterator[Image.Image]:
        for name, source, rgb in reference_images(var=var):
            refs.append((name, source))
            yield rgb

    index = var / "index.jsonl"
    backup = var / "index-before-embedding.jsonl"
    if not backup.exists():
        shutil.copyfile(index, backup)
    entries = [json.loads(line) for line in backup.read_text().splitlines() if line]

    def train_rgb() -> Iterator[Image.Image]:
        for entry in entries:
            with Image.open(var / entry["path"]) as im:
                yield im.convert("RGB")

    found = embedding_matches(train_rgb(), ref_images(), net.embed, threshold=threshold)
    nearest: dict[int, tuple[int, float]] = {}
    for t, r, sim in found:
        if t not in nearest or sim > nearest[t][1]:
            nearest[t] = (r, sim)
    with (var / "embedding-exclusions.jsonl").open("w") as out:
        for t, (r, sim) in sorted(nearest.items()):
            e = entries[t]
            out.write(
                json.dumps(
                    {
                        "path": e["path"],
                        "package": e["package"],
                        "source": e["source"],
                        "near_package": refs[r][0],
                        "near_source": refs[r][1],
                        "similarity": round(sim, 4),
                    }
                )
                + "\n"
            )
    kept = [e for i, e in enumerate(entries) if i not in nearest]
    tmp = index.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(e) + "\n" for e in kept))
    tmp.replace(index)
    return {
        "model": net.info.version,
        "threshold": threshold,
        "train_images": len(entries),
        "reference_images": len(refs),
        "dropped": len(nearest),
        "kept": len(kept),
        "seconds": round(time.perf_counter() - started),
    }


# --- the whole run -----------------------------------------------------------------


def candidates_of(package: str, records: Iterable[Record]) -> list[Candidate]:
    return [
        Candidate(
            package=package,
            source=r["source"],
            sha256=r["sha256"],
            pdq=r["pdq"],
            pdq_flip=r["pdq_flip"],
            pdq_trim=r["pdq_trim"],
            quality=r["quality"],
            phash=r["phash"],
            phash_flip=r["phash_flip"],
            group=group_of(package, r["source"]),
            file=r.get("file", ""),
            width=r["width"],
            height=r["height"],
        )
        for r in records
        if "sha256" in r
    ]


def build(args: argparse.Namespace) -> dict[str, Any]:
    var: Path = args.var
    t_start = time.perf_counter()
    cache = var / "cache"
    report: dict[str, Any] = {"packages": {}, "references": {}}
    fetched: dict[str, Package] = {}
    unavailable: dict[str, str] = {}
    roles = {
        **{p: "held_out" for p in packages.HELD_OUT},
        **{p: "benchmark" for p in packages.BENCHMARK},
        **{p: "train" for p in packages.TRAIN},
        **{p: "glyphs" for p in packages.GLYPH_FONTS},
    }
    names = [p for p in roles if not args.packages or p in args.packages]
    for name in names:
        try:
            package_fetch(name, var=var, keep_debs=args.keep_debs, licence=False)
        except PackageUnavailable as exc:
            unavailable[name] = str(exc)
            log(f"{name}: unavailable: {exc}")
    for name in names:
        if name not in unavailable:
            fetched[name] = package_licence(name, var=var)
    t_fetched = time.perf_counter()

    refs: list[Candidate] = []
    train: list[Candidate] = []
    files: dict[str, int] = {}
    examined: dict[str, list[Record]] = {}
    limit = int(POOL * args.cap)
    for name in names:
        if name not in fetched:
            continue
        package = fetched[name]
        role = roles[name]
        if role == "glyphs":
            order = glyph_sources(
                name, package.root, count=args.glyphs_per_font, seed=args.seed
            )
        else:
            if role == "train":
                sources = image_sources(package.root)
                sources = [s for s in sources if not train_skipped(s)]
                order = sampling_order(name, sources, seed=args.seed)
            else:
                order = image_sources(package.root, REFERENCE_EXTENSIONS)
        files[name] = len(order)
        records = examine_package(
            package,
            order,
            cache=cache,
            save=role in ("train", "glyphs"),
            limit=limit if role in ("train", "glyphs") else None,
            jobs=args.jobs,
            seed=args.seed,
        )
        examined[name] = records
        found = candidates_of(name, records)
        (refs if role in ("held_out", "benchmark") else train).extend(found)
    t_examined = time.perf_counter()
    log(f"selecting from {len(train):,} candidates against {len(refs):,} references")
    selection = select(train, refs, cap=args.cap)
    t_selected = time.perf_counter()

    kept_by: Counter[str] = Counter()
    outcome_by: dict[str, Counter[str]] = defaultdict(Counter)
    dropped_by_ref: dict[str, Counter[str]] = defaultdict(Counter)
    low_quality_drops: Counter[str] = Counter()
    for i, c in enumerate(train):
        outcome_by[c.package][selection.outcome[i]] += 1
    matched_ref: Counter[str] = Counter()
    exclusions = []
    for i, (j, kind, distance) in sorted(selection.reference_match.items()):
        c, r = train[i], refs[j]
        dropped_by_ref[c.package][r.package] += 1
        matched_ref[r.package] += 1
        if c.quality < LOW_QUALITY or r.quality < LOW_QUALITY:
            low_quality_drops[c.package] += 1
        exclusions.append(
            {
                "package": c.package,
                "source": c.source,
                "file": f"cache/{c.package}/{c.file}",
                "reference_package": r.package,
                "reference_source": r.source,
                "hash": kind,
                "distance": distance,
                "pdq_quality": [c.quality, r.quality],
            }
        )
    write_output(train, selection.kept, fetched, var=var)
    for i in selection.kept:
        kept_by[train[i].package] += 1
    with (var / "exclusions.jsonl").open("w") as f:
        for e in exclusions:
            f.write(json.dumps(e, ensure_ascii=False) + "\n")

    for name in names:
        role = roles[name]
        entry: dict[str, Any] = {"role": role}
        if name in unavailable:
            entry["unavailable"] = unavailable[name]
        else:
            package = fetched[name]
            records = examined[name]
            entry.update(
                version=package.version,
                licence=package.licence,
                licence_from=package.licence_from,
                files=files[name],
                examined=len(records),
                usable=sum("sha256" in r for r in records),
                rejected=dict(
                    sorted(
                        Counter(r["reason"] for r in records if "reason" in r).items()
                    )
                ),
            )
        if role in ("train", "glyphs") and name not in unavailable:
            o = outcome_by[name]
            entry.update(
                kept=kept_by[name],
                duplicates={"exact": o["exact"], "near": o["near"]},
                near_copies_dropped={
                    "total": o["reference"],
                    "low_pdq_quality": low_quality_drops[name],
                    "by_reference_package": dict(dropped_by_ref[name].most_common()),
                },
                over_cap=o["cap"],
            )
        elif name not in unavailable:
            entry["train_images_matched"] = matched_ref[name]
        (report["packages"] if role in ("train", "glyphs") else report["references"])[
            name
        ] = entry
    distances: dict[str, Counter[int]] = {"pdq": Counter(), "phash": Counter()}
    for _, kind, distance in selection.reference_match.values():
        distances[kind][distance] += 1
    report["near_copy_distances"] = {
        kind: dict(sorted(c.items())) for kind, c in distances.items()
    }
    report["totals"] = {
        "kept": len(selection.kept),
        "candidates": len(train),
        "reference_images": len(refs),
        "exact_duplicates": selection.outcome.count("exact"),
        "near_duplicates": selection.outcome.count("near"),
        "near_copies_dropped": selection.outcome.count("reference"),
        "over_cap": selection.outcome.count("cap"),
        "groups": len({train[i].group for i in selection.kept}),
    }
    report["parameters"] = {
        "seed": args.seed,
        "cap": args.cap,
        "pool": POOL,
        "min_side": MIN_SIDE,
        "max_side": MAX_SIDE,
        "jpeg_quality": JPEG_QUALITY,
        "dup_pdq": DUP_PDQ,
        "ref_pdq": REF_PDQ,
        "ref_phash": REF_PHASH,
        "glyphs_per_font_package": args.glyphs_per_font,
        "jobs": args.jobs,
    }
    report["seconds"] = {
        "fetch": round(t_fetched - t_start, 1),
        "examine": round(t_examined - t_fetched, 1),
        "select": round(t_selected - t_examined, 1),
        "total": round(time.perf_counter() - t_start, 1),
    }
    (var / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return report


def write_output(
    train: Sequence[Candidate],
    kept: Sequence[int],
    fetched: dict[str, Package],
    *,
    var: Path,
) -> None:
    """images/<package>/NNNNN.jpg (hard links into the cache) and index.jsonl."""
    images = var / "images"
    shutil.rmtree(images, ignore_errors=True)
    numbers: Counter[str] = Counter()
    with (var / "index.jsonl.partial").open("w") as index:
        for i in kept:
            c = train[i]
            n = numbers[c.package]
            numbers[c.package] += 1
            folder = images / c.package
            if n == 0:
                folder.mkdir(parents=True)
            target = folder / f"{n:05d}.jpg"
            source = var / "cache" / c.package / c.file
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
            line = {
                "path": target.relative_to(var).as_posix(),
                "package": c.package,
                "version": fetched[c.package].version,
                "source": c.source,
                "sha256": c.sha256,
                "pdq": c.pdq,
                "pdq_quality": c.quality,
                "group": c.group,
                "width": c.width,
                "height": c.height,
            }
            index.write(json.dumps(line, ensure_ascii=False) + "\n")
    (var / "index.jsonl.partial").replace(var / "index.jsonl")


# --- the data card -------------------------------------------------------------


CARD_HEAD = """\
# Training data for the copy-detection descriptor

Generated by `training/dataset.py --write-card` from
`var/training/report.json`; edit the script, not this file. Build it with

```
make training-data                                  # training/dataset.py
.venv/bin/python training/dataset.py --write-card   # the same, then this file
```

Nothing is downloaded from the web: every image comes from a Debian 12 (main)
package fetched with `apt-get download` and unpacked with `dpkg -x` under
`var/training/root/` (never installed). Output, all under `var/training/`
(git-ignored):

- `images/<package>/NNNNN.jpg`: the images, JPEG quality 95 (4:4:4), longer
  side <= {max_side} px;
- `index.jsonl`: one line an image: `path` (relative to var/training),
  `package`, `version`, `source` (path inside the package; `archive!member`
  inside .pk3/.zip/.wz/.rcc files; `font#glyphs/family/member` for renders),
  `sha256` (decoded full-size RGB), `pdq` (hex), `pdq_quality`, `group`, the
  original `width` and `height`;
- `report.json`: the counts below; `exclusions.jsonl`: every image dropped as
  a near-copy of a benchmark or held-out image, with what it was near;
- `cache/`: per-package examination results (a rerun resumes from them).

`group` names a family: a numbered series (sprite frames, `name_01`..
`name_12`), else the directory (a card deck, one game's portraits, colour
variants of one template), or one background-and-layout family of glyph
renders. Members of a family look alike without being copies of each other:
a sampler that puts them in one batch gives the contrastive loss hard
negatives.

## Partition (training/packages.py)

- **HELD_OUT** ({held_out} packages): independent checks; never trained on,
  never used to tune the benchmark.
- **BENCHMARK** ({benchmark} packages): bench/quality's registered and
  distractor images; never trained on.
- **TRAIN** ({train} packages) and **GLYPH_FONTS** ({fonts} font packages
  rendered as glyphs): the data set.

## Rules

- Candidates: every PNG, JPEG and WebP file of a package, including those
  inside zip-family archives (.pk3, .zip, .wz) and Qt resource files (.rcc).
  TGA, DDS, BMP and SVG are not read.
- Usable (bench/quality/dataset.py's `check_image`): decodes, at most 100
  megapixels, shorter side >= {min_side} px, aspect ratio <= 4, not blank
  (grey-level standard deviation >= 4 and >= 1 % of pixels not near-white
  after compositing transparency onto white). Unlike the benchmark, no paths
  are skipped and numbered series are kept (they are the sprite families).
- Hashes, on the normalised image, by the engine's own functions
  (workers/engine/perceptual.py, canonical form at 256 px): PDQ as is,
  mirrored and border-trimmed; pHash as is and mirrored.
- Near-copies of BENCHMARK and HELD_OUT: a training image within PDQ
  {ref_pdq} or pHash {ref_phash} of any of their usable images (either side
  mirrored or trimmed) is dropped. Their packages are unpacked and hashed by
  the same rules (all files, no cap; DDS and TGA textures too, so 0 A.D.'s
  art counts). Exact search (faiss IndexBinaryFlat).
- Duplicates within TRAIN: exact (SHA-256 of the decoded full-size RGB) and
  near (PDQ <= {dup_pdq}, as is or mirrored, to an image already kept).
  Packages are visited in training/packages.py's order, so an earlier
  package keeps a shared image.
- At most {cap} images a package, in a seeded order (seed {seed}): families
  in random order, up to {chunk} files of one family a round. A package is
  examined until it has {pool} x the cap distinct usable images.
- Glyphs: {glyphs} renders a font package, in families of {family} sharing a
  background (plain, gradient, noise, stripes, checks or paper) and a layout,
  differing in the text (a glyph or a short word in Latin, Greek, Cyrillic,
  Chinese, Arabic, Devanagari, symbols or digits, as the font draws it).
- A second exclusion pass by embedding (`embedding_matches` and
  `reference_images` in training/dataset.py) waits for a trained model.
"""


PHASH_NOTE = """\
What contact sheets of the first build (seed 1, Debian 12 as of 2025-05)
showed, about 50 pairs a band: PDQ hits up to about 16 are nearly all real
copies (the same flags in KGeography and Open Clip Art or Freeciv, textures
two games share, the same explosion sprite); PDQ hits from 32 to 40 mix real
copies (the GPLv3 logo, world maps, flags) with flat images that collide by
chance (black or grey panels, two-stripe flags); pHash-only hits were almost
all chance at every distance, 0 included (a big glyph or icon against a small
sprite on black or transparency, two different tricolours). The thresholds
are the project's (PDQ 40, pHash 6) and err on the side of dropping: the cost
is a few per cent of the candidates. A pass by embedding would tell these
apart."""


def write_card(report: dict[str, Any], path: Path = CARD) -> None:
    """training/DATA.md from report.json."""
    t = report["totals"]
    p = report["parameters"]
    pk = report["packages"]
    # JSON keys are strings
    dist = report.get("near_copy_distances", {})
    pdq = {str(k): v for k, v in dist.get("pdq", {}).items()}
    phash = {str(k): v for k, v in dist.get("phash", {}).items()}

    def n(x: int) -> str:
        return f"{x:,}"

    def short(licence: str, most: int = 6) -> str:
        names = licence.split(", ")
        if len(names) <= most:
            return licence
        return ", ".join(names[:most]) + f", ... ({len(names) - most} more)"

    def row(name: str, e: dict[str, Any], what: str) -> str:
        if "unavailable" in e:
            return (
                f"| {name} | - | - | {what} | - | - | unavailable: {e['unavailable']} |"
            )
        rej = ", ".join(f"{k} {v}" for k, v in e["rejected"].items())
        return (
            f"| {name} | {e['version']} | {short(e['licence'])} | {what} | "
            f"{n(e['files'])} | "
            f"**{n(e['kept'])}** | {rej} |"
        )

    lines = CARD_HEAD.format(
        max_side=p["max_side"],
        held_out=len(packages.HELD_OUT),
        benchmark=len(packages.BENCHMARK),
        train=len(packages.TRAIN),
        fonts=len(packages.GLYPH_FONTS),
        min_side=p["min_side"],
        ref_pdq=p["ref_pdq"],
        ref_phash=p["ref_phash"],
        dup_pdq=p["dup_pdq"],
        cap=n(p["cap"]),
        seed=p["seed"],
        pool=p["pool"],
        chunk=CHUNK,
        glyphs=p["glyphs_per_font_package"],
        family=GLYPH_FAMILY,
    ).split("\n")
    lines += [
        "## Totals",
        "",
        f"- kept: **{n(t['kept'])}** images in {n(t['groups'])} groups, from"
        f" {n(t['candidates'])} usable candidates",
        f"- exact duplicates dropped: {n(t['exact_duplicates'])}; near duplicates"
        f" (PDQ <= {p['dup_pdq']}): {n(t['near_duplicates'])}",
        f"- near-copies of benchmark/held-out images dropped:"
        f" {n(t['near_copies_dropped'])} (against {n(t['reference_images'])}"
        " reference images)",
        f"- over the cap: {n(t['over_cap'])}",
        "",
        "## Packages",
        "",
        '"files" = candidate image files (renders for font packages); "kept" after',
        "every rule; rejected = of the files examined.",
        "",
        "| package | version | licence | what | files | kept | rejected |",
        "| --- | --- | --- | --- | ---: | ---: | --- |",
    ]
    for name, what in {**packages.TRAIN, **packages.GLYPH_FONTS}.items():
        if name in pk:
            lines.append(row(name, pk[name], what))
    lines += [
        f"| **total** | | | | {n(sum(e.get('files', 0) for e in pk.values()))} | "
        f"**{n(t['kept'])}** | |",
        "",
        "## Duplicates and exclusions per package",
        "",
        "| package | examined | usable | exact dup. | near dup. |"
        " near benchmark/held-out (low PDQ quality) | over cap | matched |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name in {**packages.TRAIN, **packages.GLYPH_FONTS}:
        e = pk.get(name)
        if not e or "unavailable" in e:
            continue
        d = e["near_copies_dropped"]
        by = ", ".join(f"{k} {v}" for k, v in d["by_reference_package"].items())
        lines.append(
            f"| {name} | {n(e['examined'])} | {n(e['usable'])} | "
            f"{n(e['duplicates']['exact'])} | {n(e['duplicates']['near'])} | "
            f"{n(d['total'])} ({n(d['low_pdq_quality'])}) | {n(e['over_cap'])} | {by} |"
        )
    lines += [
        "",
        '"low PDQ quality": drops where either image\'s PDQ quality is under'
        f" {LOW_QUALITY} (flat",
        "images, whose hashes collide more easily): some of those are not copies.",
        "",
        "Near-copies dropped by the distance that caught them (the closest",
        "reference; PDQ counted first):",
        "",
        "| hash | " + " | ".join(str(d) for d in range(0, p["ref_pdq"] + 1, 4)) + " |",
        "| --- |" + " ---: |" * len(range(0, p["ref_pdq"] + 1, 4)),
        "| PDQ (distances d..d+3) | "
        + " | ".join(
            n(sum(v for k, v in pdq.items() if d <= int(k) < d + 4))
            for d in range(0, p["ref_pdq"] + 1, 4)
        )
        + " |",
        "",
        "| hash | " + " | ".join(str(d) for d in range(p["ref_phash"] + 1)) + " |",
        "| --- |" + " ---: |" * (p["ref_phash"] + 1),
        "| pHash | "
        + " | ".join(n(phash.get(str(d), 0)) for d in range(p["ref_phash"] + 1))
        + " |",
        "",
        PHASH_NOTE,
        "",
        "## Reference packages (hashed, never trained on)",
        "",
        "| package | role | version | licence | files | usable |"
        " training images dropped near them |",
        "| --- | --- | --- | --- | ---: | ---: | ---: |",
    ]
    for name, e in report["references"].items():
        if "unavailable" in e:
            lines.append(
                f"| {name} | {e['role']} | - | - | - | - |"
                f" unavailable: {e['unavailable']} |"
            )
            continue
        lines.append(
            f"| {name} | {e['role']} | {e['version']} | {short(e['licence'])} | "
            f"{n(e['files'])} | {n(e['usable'])} | {n(e['train_images_matched'])} |"
        )
    s = report["seconds"]
    lines += [
        "",
        "## Run",
        "",
        f"The run that wrote this file took {s['total']:.0f} s with {p['jobs']}"
        f" processes (fetch {s['fetch']:.0f} s, examine {s['examine']:.0f} s,"
        f" select {s['select']:.0f} s); with every package cached a run only",
        "selects and writes. From nothing, the first build took about 17 minutes",
        "on 2 shared cores (14 min 43 s, then 1 min 51 s for the packages added",
        "after it), plus about 2 minutes of `apt-get download` (8 GB) run",
        "beforehand; the unpacked packages take about 18 GB under var/training.",
        "",
        "Packages looked at and not used (training/packages.py `NOT_USED`):",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in packages.NOT_USED.items()]
    path.write_text("\n".join(lines) + "\n")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="processes (at most 2)")
    parser.add_argument("--cap", type=int, default=CAP, help="images a package")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--glyphs-per-font", type=int, default=GLYPHS_PER_FONT_PACKAGE)
    parser.add_argument("--var", type=Path, default=VAR, help=argparse.SUPPRESS)
    parser.add_argument(
        "--packages", nargs="*", help="only these packages (a trial run)"
    )
    parser.add_argument(
        "--keep-debs", action="store_true", help="keep .debs after unpacking"
    )
    parser.add_argument(
        "--write-card", action="store_true", help="also write training/DATA.md"
    )
    parser.add_argument(
        "--embedding-pass",
        type=Path,
        metavar="MODEL",
        help="instead of building: drop training images near benchmark/held-out "
        "images by this ONNX descriptor (embedding_pass)",
    )
    parser.add_argument("--embedding-threshold", type=float, default=0.9)
    args = parser.parse_args(argv)
    args.jobs = max(1, min(args.jobs, 2))  # the machine is shared: 2 cores
    faiss.omp_set_num_threads(args.jobs)
    if args.embedding_pass:
        result = embedding_pass(
            args.embedding_pass, args.embedding_threshold, var=args.var
        )
        print(json.dumps(result))
        return
    args.var.mkdir(parents=True, exist_ok=True)
    report = build(args)
    t = report["totals"]
    print(
        f"{'package':<30} {'files':>7} {'usable':>7} {'kept':>6} {'dup':>6} {'ref':>5}"
    )
    for name, e in report["packages"].items():
        if "unavailable" in e:
            print(f"{name:<30} unavailable: {e['unavailable']}")
            continue
        dup = e["duplicates"]["exact"] + e["duplicates"]["near"]
        print(
            f"{name:<30} {e['files']:>7} {e['usable']:>7} {e['kept']:>6} {dup:>6} "
            f"{e['near_copies_dropped']['total']:>5}"
        )
    print(
        f"kept {t['kept']:,}; exact duplicates {t['exact_duplicates']:,}, near "
        f"{t['near_duplicates']:,}; near benchmark/held-out "
        f"{t['near_copies_dropped']:,}; "
        f"over cap {t['over_cap']:,}; {report['seconds']['total']:.0f} s"
    )
    if args.write_card:
        write_card(report)
        print(f"wrote {CARD.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
