"""Signals inside the data: what an image file itself says about AI training.

A rights holder can write their preference into the file: IPTC's PLUS
`DataMining` property in XMP, a C2PA manifest with a training-and-data-mining
assertion (`c2pa.training-mining`, or CAWG's `cawg.training-mining`), or an
RSL licence embedded in XMP. `read_embedded` reads them from an image's bytes
with maintained parsers (Pillow finds the XMP packet in JPEG, PNG, WebP,
TIFF and GIF; defusedxml parses it; c2pa-python reads and validates the C2PA
manifest) and maps each to the IETF AI-preferences vocabulary
(draft-ietf-aipref-vocab): a category (`train-ai`, `ai-use`, `search`) and
`y` or `n`. docs/SIGNALS.md has the mapping tables and the texts they come
from.

Only refusals of `train-ai` become matches (snapshot.match_parts): a
manifest is a training set. A statement that cannot be read (malformed XMP, a
C2PA manifest that does not parse) is a problem, never a clean row.
Django-free, like the rest of the engine.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from PIL import Image, UnidentifiedImageError

# The protocols read inside files, in the order they are reported. The
# operator's profile (settings.SIGNAL_PROTOCOLS) picks among them.
EMBEDDED_PROTOCOLS = ("iptc", "c2pa", "cawg", "rsl")

TRAIN_AI, AI_USE, SEARCH = "train-ai", "ai-use", "search"

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PLUS = "http://ns.useplus.org/ldf/xmp/1.0/"
PLUS_VOCAB = "http://ns.useplus.org/ldf/vocab/"
RSL = "https://rslstandard.org/rsl"

# IPTC Photo Metadata / PLUS `DataMining` values (the PLUS LDF vocabulary,
# http://ns.useplus.org/ldf/vocab/) -> the preferences they state. The
# "see constraint / rights expression" values prohibit unless something else
# allows; what allows is elsewhere, so they count as refusals (constrained
# counts as not allowed). Unspecified states nothing.
IPTC_DATA_MINING: dict[str, dict[str, bool]] = {
    "DMI-UNSPECIFIED": {},
    "DMI-ALLOWED": {TRAIN_AI: True, AI_USE: True, SEARCH: True},
    "DMI-PROHIBITED-AIMLTRAINING": {TRAIN_AI: False},
    "DMI-PROHIBITED-GENAIMLTRAINING": {TRAIN_AI: False},
    "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING": {
        TRAIN_AI: False,
        AI_USE: False,
        SEARCH: True,
    },
    "DMI-PROHIBITED": {TRAIN_AI: False, AI_USE: False, SEARCH: False},
    "DMI-PROHIBITED-SEECONSTRAINT": {TRAIN_AI: False, AI_USE: False},
    "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR": {TRAIN_AI: False, AI_USE: False},
    "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR": {TRAIN_AI: False, AI_USE: False},
}

# Training-and-data-mining assertion entries (C2PA 1.x `c2pa.*`, CAWG
# `cawg.*`) -> aipref categories. Data mining covers training (text and data
# mining is how a training set is made; the EU's reservation under Art. 4
# CDSM is one of TDM), so its refusal refuses train-ai too.
TDM_ENTRIES: dict[str, tuple[str, ...]] = {
    "ai_generative_training": (TRAIN_AI,),
    "ai_training": (TRAIN_AI,),
    "data_mining": (TRAIN_AI,),
    "ai_inference": (AI_USE,),
}
TDM_LABELS = {"c2pa": "c2pa.training-mining", "cawg": "cawg.training-mining"}

# RSL usage tokens (RSL 1.0, <permits>/<prohibits type="usage">) -> categories.
RSL_USAGE: dict[str, tuple[str, ...]] = {
    "all": (TRAIN_AI, AI_USE, SEARCH),
    "ai-all": (TRAIN_AI, AI_USE),
    "ai-train": (TRAIN_AI,),
    "ai-input": (AI_USE,),
    "ai-index": (AI_USE,),
    "search": (SEARCH,),
}

_MIME = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
    "GIF": "image/gif",
    "AVIF": "image/avif",
    "HEIF": "image/heif",
}
# c2pa-python's validation_state, as a report says it. A refusal counts
# whatever the state (saying no is never taken from anyone by honouring it);
# the state tells the curator how sure we are of who said it.
_VALIDATION = {
    "Trusted": "manifest valid, signer trusted",
    "Valid": "manifest valid, signer on no trust list",
    "Invalid": "manifest invalid",
}
MAX_XMP_BYTES = 1 << 20  # a packet larger than this is not read (a problem)


@dataclass(frozen=True)
class Statement:
    """One preference a file states: `category` allowed or not, from `source`.

    `value` is what the file says, as written ("DMI-PROHIBITED-AIMLTRAINING",
    "cawg.ai_generative_training=notAllowed"); `note` what we know of who
    said it (a C2PA manifest's validation state and signer), else "".
    """

    source: str
    category: str
    allowed: bool
    value: str
    note: str = ""

    @property
    def preference(self) -> str:
        """The statement as an aipref dictionary member: "train-ai=n"."""
        return f"{self.category}={'y' if self.allowed else 'n'}"


@dataclass
class Embedded:
    """What one image's metadata says: its statements, and what could not be
    read (each a sentence naming the protocol)."""

    statements: list[Statement]
    problems: list[str]

    def refusals(self, category: str = TRAIN_AI) -> list[Statement]:
        """The statements refusing `category`, one per source and value."""
        seen: set[tuple[str, str]] = set()
        out = []
        for s in self.statements:
            if s.category == category and not s.allowed:
                if (s.source, s.value) not in seen:
                    seen.add((s.source, s.value))
                    out.append(s)
        return out


class _C2pa:
    """c2pa-python, loaded once a process, with remote fetches off: a hostile
    file must not make a worker fetch a URL it names."""

    context: Any = None
    module: Any = None

    @classmethod
    def reader(cls, mime: str, data: bytes) -> Any:
        if cls.module is None:
            import c2pa

            cls.module = c2pa
            settings = c2pa.Settings.from_dict(
                {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
            )
            cls.context = c2pa.Context(settings)
        return cls.module.Reader(mime, io.BytesIO(data), context=cls.context)


def read_embedded(
    data: bytes, protocols: Iterable[str] = EMBEDDED_PROTOCOLS
) -> Embedded:
    """The preferences `data` (an encoded image) states in its metadata,
    read for the chosen protocols only."""
    chosen = set(protocols)
    out = Embedded([], [])
    if not chosen:
        return out
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format or ""
            xmp = im.info.get("xmp")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        # The image itself is reported as not decoding; its metadata with it.
        return out
    if chosen & {"iptc", "rsl"} and xmp:
        _read_xmp(xmp, chosen, out)
    if chosen & {"c2pa", "cawg"} and b"c2pa" in data:
        _read_c2pa(data, _MIME.get(fmt, ""), chosen, out)
    return out


def _read_xmp(xmp: Any, chosen: set[str], out: Embedded) -> None:
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    if len(xmp) > MAX_XMP_BYTES:
        out.problems.append(f"XMP packet is larger than {MAX_XMP_BYTES} bytes")
        return
    # A packet may be wrapped in <?xpacket?> processing instructions and
    # padding; the parser wants the x:xmpmeta (or rdf:RDF) element alone.
    start = min(
        (i for i in (xmp.find(b"<x:xmpmeta"), xmp.find(b"<rdf:RDF")) if i >= 0),
        default=0,
    )
    end = xmp.rfind(b"</x:xmpmeta>")
    body = xmp[start : end + len(b"</x:xmpmeta>")] if end >= 0 else xmp[start:]
    try:
        root = SafeET.fromstring(body.rstrip(b"\x00 \r\n\t"))
    except Exception as exc:  # ParseError, or defusedxml's refusals
        out.problems.append(f"XMP packet is not well-formed XML: {exc}")
        return
    if "iptc" in chosen:
        for value in _plus_data_mining(root):
            code = value.rsplit("/", 1)[-1].strip()
            for category, allowed in IPTC_DATA_MINING.get(code, {}).items():
                out.statements.append(Statement("iptc", category, allowed, code))
    if "rsl" in chosen:
        for rsl in root.iter(f"{{{RSL}}}rsl"):
            out.statements += _rsl_statements(rsl)


def _plus_data_mining(root: Element) -> list[str]:
    """Every plus:DataMining value, in any of XMP's forms: an attribute of
    rdf:Description, an element's text, or its rdf:resource."""
    name = f"{{{PLUS}}}DataMining"
    values = [d.get(name, "") for d in root.iter(f"{{{RDF}}}Description")]
    for element in root.iter(name):
        values.append(element.get(f"{{{RDF}}}resource") or (element.text or ""))
    return [v for v in values if v.strip()]


def _rsl_statements(rsl: Element) -> list[Statement]:
    """An embedded RSL document's usage terms, licence by licence."""
    return [
        Statement("rsl", category, allowed, value)
        for license_ in rsl.iter(f"{{{RSL}}}license")
        for category, allowed, value in rsl_terms(license_)
    ]


def rsl_terms(license_: Element) -> list[tuple[str, bool, str]]:
    """(category, allowed, value) for an RSL <license>'s usage terms. A
    licence whose usage permits leave a category out grants nothing for it,
    which we read as a refusal; an explicit prohibition refuses too."""
    out: list[tuple[str, bool, str]] = []

    def usage(tag: str) -> list[Element]:
        return [
            e
            for e in license_.findall(f"{{{RSL}}}{tag}")
            if e.get("type", "usage") == "usage"
        ]

    permits, prohibits = usage("permits"), usage("prohibits")
    for p in prohibits:
        for category in _rsl_categories(p.text):
            out.append((category, False, f"prohibits {(p.text or '').strip()}"))
    if permits:
        listed = ", ".join((p.text or "").strip() for p in permits)
        permitted = {c for p in permits for c in _rsl_categories(p.text)}
        for category in (TRAIN_AI, AI_USE, SEARCH):
            if category in permitted:
                out.append((category, True, f"permits {listed}"))
            else:
                out.append((category, False, f"permits only {listed}"))
    return out


def _rsl_categories(text: str | None) -> set[str]:
    """The categories an RSL usage list names (tokens separated by commas or
    spaces; unknown tokens name none)."""
    tokens = (text or "").replace(",", " ").split()
    return {c for t in tokens for c in RSL_USAGE.get(t.strip().lower(), ())}


def _read_c2pa(data: bytes, mime: str, chosen: set[str], out: Embedded) -> None:
    if not mime:
        out.problems.append("C2PA: this image format is not read")
        return
    try:
        store = json.loads(_C2pa.reader(mime, data).json())
    except Exception as exc:
        # "no JUMBF data found": the bytes "c2pa" were in the file by chance.
        if "ManifestNotFound" in type(exc).__name__ or "JUMBF" in str(exc):
            return
        out.problems.append(f"C2PA manifest cannot be read: {exc}")
        return
    manifest = (store.get("manifests") or {}).get(store.get("active_manifest"))
    if not manifest:
        return
    state = _VALIDATION.get(str(store.get("validation_state") or ""), "")
    signer = (manifest.get("signature_info") or {}).get("common_name") or ""
    note = "; ".join(x for x in (state, f"signed by {signer}" if signer else "") if x)
    for assertion in manifest.get("assertions") or []:
        label = str(assertion.get("label") or "").split("__", 1)[0]
        source = next((s for s, lab in TDM_LABELS.items() if lab == label), None)
        if source is None or source not in chosen:
            continue
        data_ = assertion.get("data") or {}
        # Early texts put the entries at the top level; read both.
        entries = data_.get("entries") if isinstance(data_, dict) else None
        if not isinstance(entries, dict):
            entries = data_ if isinstance(data_, dict) else {}
        for key, entry in entries.items():
            use = entry.get("use") if isinstance(entry, dict) else None
            kind = str(key).split(".", 1)[-1]
            if use not in ("allowed", "notAllowed", "constrained"):
                continue
            for category in TDM_ENTRIES.get(kind, ()):
                out.statements.append(
                    Statement(source, category, use == "allowed", f"{key}={use}", note)
                )
