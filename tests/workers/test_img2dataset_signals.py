"""img2dataset's own metadata never carries a training signal: its `exif`
field is exifread's tags with details off, which hold no XMP (where IPTC's
plus:DataMining and RSL live) and no C2PA store. The signals are read from
the images themselves, which img2dataset keeps as served only with
`--skip_reencode True`: by default it re-encodes every image and the
signals are gone (docs/SIGNALS.md). Real img2dataset output, from a local
server."""

from __future__ import annotations

import json
import tarfile

import pytest

from tests.img2dataset_output import run_img2dataset
from tests.signal_images import iptc_data_mining, rsl_licence, with_c2pa, with_xmp
from workers.engine.datasignals import EMBEDDED_PROTOCOLS, read_embedded


@pytest.mark.parametrize("reencode", [False, True])
def test_the_signals_are_in_the_images_never_in_img2datasets_exif(tmp_path, reencode):
    images = {
        "iptc.jpg": with_xmp(1, iptc_data_mining("DMI-PROHIBITED-AIMLTRAINING")),
        "rsl.jpg": with_xmp(2, rsl_licence(prohibits="ai-train")),
        "c2pa.jpg": with_c2pa(
            3, {"c2pa.ai_training": "notAllowed"}, label="c2pa.training-mining"
        ),
    }
    folder, urls = run_img2dataset(
        tmp_path,
        images,
        output_format="webdataset",
        missing=0,
        options=() if reencode else ("--skip_reencode", "True"),
    )
    by_url = {url: name for name, url in urls.items()}
    found: dict[str, set[str]] = {}
    with tarfile.open(folder / "00000.tar") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    for name, data in members.items():
        if not name.endswith(".json"):
            continue
        meta = json.loads(data)
        exif = json.loads(meta["exif"]) if meta.get("exif") else {}
        said = " ".join(f"{k} {v}" for k, v in exif.items())
        for trace in ("DataMining", "DMI-", "rslstandard", "xmpmeta", "c2pa", "jumb"):
            assert trace.lower() not in said.lower(), (name, trace, exif)
        image = members[name.removesuffix(".json") + ".jpg"]
        statements = read_embedded(image, EMBEDDED_PROTOCOLS).statements
        found[by_url[meta["url"]]] = {
            s.source for s in statements if s.preference == "train-ai=n"
        }
    if reencode:  # img2dataset's default: the metadata is lost with the bytes
        assert found == {"iptc.jpg": set(), "rsl.jpg": set(), "c2pa.jpg": set()}
    else:
        assert found == {
            "iptc.jpg": {"iptc"},
            "rsl.jpg": {"rsl"},
            "c2pa.jpg": {"c2pa"},
        }
