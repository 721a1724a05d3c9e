"""Test images that state AI-training preferences in their own metadata.

XMP is written by Pillow (JPEG, WebP, TIFF: `xmp=`; PNG: an iTXt chunk), as
an editor would; C2PA manifests are signed by c2pa-python with a throwaway
certificate chain made here (an ES256 leaf under a test CA), so the manifest
validates but is not trusted. Nothing is fetched.
"""

from __future__ import annotations

import datetime
import functools
import io

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import PngImagePlugin

from tests.images import drawing

PLUS_VOCAB = "http://ns.useplus.org/ldf/vocab/"


def xmp_packet(description: str, namespaces: str = "") -> bytes:
    """An XMP packet whose rdf:Description holds `description`."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" '
        'xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
        f'xmlns:rsl="https://rslstandard.org/rsl" {namespaces}>'
        f"{description}</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def iptc_data_mining(value: str, *, form: str = "element") -> bytes:
    """An XMP packet with plus:DataMining = the PLUS vocabulary's `value`,
    as an element's rdf:resource ("element") or its text ("text")."""
    uri = PLUS_VOCAB + value
    if form == "text":
        return xmp_packet(f"<plus:DataMining>{uri}</plus:DataMining>")
    return xmp_packet(f'<plus:DataMining rdf:resource="{uri}"/>')


def rsl_licence(*, permits: str | None = None, prohibits: str | None = None) -> bytes:
    """An XMP packet embedding an RSL licence with these usage terms."""
    terms = ""
    if permits is not None:
        terms += f'<rsl:permits type="usage">{permits}</rsl:permits>'
    if prohibits is not None:
        terms += f'<rsl:prohibits type="usage">{prohibits}</rsl:prohibits>'
    return xmp_packet(
        '<rsl:rsl><rsl:content url="https://art.example/harbour.jpg">'
        f'<rsl:license>{terms}<rsl:payment type="purchase"/></rsl:license>'
        "</rsl:content></rsl:rsl>"
    )


def with_xmp(
    seed: int, xmp: bytes, fmt: str = "JPEG", size: tuple[int, int] = (320, 240)
) -> bytes:
    """A drawing saved as `fmt` carrying the XMP packet."""
    img = drawing(seed, size)
    out = io.BytesIO()
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"), zip=True)
        img.save(out, "PNG", pnginfo=info)
    elif fmt == "TIFF":
        img.save(out, "TIFF", tiffinfo={700: xmp})
    else:
        img.save(out, fmt, xmp=xmp)
    return out.getvalue()


@functools.cache
def _signer_pems() -> tuple[bytes, bytes]:
    """A certificate chain (leaf, CA) and the leaf's private key, in PEM."""
    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Registry tests"),
            ]
        )

    def usage(*, sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=not sign,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=sign,
            crl_sign=sign,
            encipher_only=False,
            decipher_only=False,
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Registry tests CA"))
        .issuer_name(name("Registry tests CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(usage(sign=True), True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("Harbour Artist"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(usage(sign=False), True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    chain = leaf.public_bytes(pem) + ca.public_bytes(pem)
    private = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain, private


def with_c2pa(
    seed: int,
    entries: dict[str, str],
    *,
    label: str,
    size: tuple[int, int] = (320, 240),
) -> bytes:
    """A JPEG drawing with a signed C2PA manifest whose `label` assertion
    (c2pa.training-mining or cawg.training-mining) has these entries
    ({"cawg.ai_generative_training": "notAllowed", ...})."""
    chain, private = _signer_pems()
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(
            alg=b"es256", sign_cert=chain, private_key=private, ta_url=None
        )
    )
    manifest = {
        "claim_generator_info": [{"name": "registry-tests", "version": "1"}],
        "title": f"drawing {seed}",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": "http://cv.iptc.org/newscodes/"
                            "digitalsourcetype/digitalCreation",
                        }
                    ]
                },
            },
            {
                "label": label,
                "data": {"entries": {k: {"use": v} for k, v in entries.items()}},
            },
        ],
    }
    source = io.BytesIO()
    drawing(seed, size).save(source, "JPEG", quality=90)
    source.seek(0)
    out = io.BytesIO()
    c2pa.Builder(manifest).sign(signer, "image/jpeg", source, out)
    return out.getvalue()
