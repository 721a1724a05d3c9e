"""Email verification and API token scopes.

Accounts that exist before this migration count as verified (they were made
when no verification was asked, and their claims are enforced today); tokens
that exist get `*`: everything their account's roles allow, as before.
"""

from django.db import migrations, models

import accounts.models
from django.utils import timezone



def forwards(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    ApiToken = apps.get_model("accounts", "ApiToken")
    User.objects.filter(email_verified_at__isnull=True).update(
        email_verified_at=timezone.now()
    )
    ApiToken.objects.update(scopes=["*"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="email_verified_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="scopes",
            field=models.JSONField(default=list),
        ),
        migrations.AlterModelManagers(
            name="user",
            managers=[("objects", accounts.models.AccountManager())],
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
