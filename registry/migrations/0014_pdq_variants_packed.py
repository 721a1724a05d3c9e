"""Registry-side PDQ variants move from one Fingerprint row each (26 per image
with the dihedral scheme) to one packed value per image (Image.pdq_variants).

The packing is written out here rather than imported, so this migration keeps
meaning what it meant when later code changes: per variant, in name order,
the name's length (1 byte), the name, the PDQ (32 bytes), the quality (1 byte).
"""

from django.db import migrations, models


def _pack(variants):
    out = bytearray()
    for name in sorted(variants):
        raw, quality = variants[name]
        encoded = name.encode("ascii")
        out += bytes([len(encoded)]) + encoded + bytes(raw) + bytes([quality or 0])
    return bytes(out)


def pack_rows(apps, schema_editor):
    Image = apps.get_model("registry", "Image")
    Fingerprint = apps.get_model("registry", "Fingerprint")
    rows = (
        Fingerprint.objects.exclude(variant="original")
        .filter(algorithm="pdq")
        .order_by("image_id")
        .values_list("image_id", "variant", "value", "quality", "version")
    )
    current, variants, version = None, {}, ""

    def flush():
        if current is not None and variants:
            Image.objects.filter(pk=current).update(
                pdq_variants=_pack(variants), variants_version=version
            )

    for image_id, variant, value, quality, row_version in rows.iterator(
        chunk_size=20_000
    ):
        if image_id != current:
            flush()
            current, variants, version = image_id, {}, row_version
        if value is not None:
            variants[variant] = (bytes(value), quality)
    flush()
    Fingerprint.objects.exclude(variant="original").delete()


def unpack_rows(apps, schema_editor):
    Image = apps.get_model("registry", "Image")
    Fingerprint = apps.get_model("registry", "Fingerprint")
    for image in Image.objects.exclude(pdq_variants=None).iterator(chunk_size=2_000):
        data, at, made = bytes(image.pdq_variants), 0, []
        while at < len(data):
            size = data[at]
            name = data[at + 1 : at + 1 + size].decode("ascii")
            raw = data[at + 1 + size : at + 33 + size]
            made.append(
                Fingerprint(
                    image_id=image.pk,
                    algorithm="pdq",
                    variant=name,
                    version=image.variants_version,
                    value=raw,
                    quality=data[at + 33 + size],
                )
            )
            at += 34 + size
        Fingerprint.objects.bulk_create(made)


class Migration(migrations.Migration):
    dependencies = [("registry", "0013_index_ops_mark")]

    operations = [
        migrations.AddField(
            model_name="image",
            name="pdq_variants",
            field=models.BinaryField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="image",
            name="variants_version",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.RunPython(pack_rows, unpack_rows, elidable=False),
    ]
