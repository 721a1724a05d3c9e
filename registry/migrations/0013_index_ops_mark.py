"""A registry that already has revisions has no ops for them: mark them as
pruned, so its first index segment is a base read from the database."""

from django.db import migrations


def mark(apps, schema_editor):
    RegistryRevision = apps.get_model("registry", "RegistryRevision")
    IndexChange = apps.get_model("registry", "IndexChange")
    row = RegistryRevision.objects.filter(pk=1).first()
    if row and row.value > 0:
        IndexChange.objects.create(space=8, ref=0, revision=row.value)


class Migration(migrations.Migration):
    dependencies = [("registry", "0012_index_segments")]

    operations = [migrations.RunPython(mark, migrations.RunPython.noop)]
