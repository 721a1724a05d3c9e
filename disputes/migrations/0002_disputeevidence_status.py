from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("disputes", "0001_initial"),
    ]

    operations = [
        # Evidence stored before this was fingerprinted in the request: done.
        migrations.AddField(
            model_name="disputeevidence",
            name="status",
            field=models.CharField(
                choices=[("processing", "being processed"), ("done", "Done")],
                default="done",
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="disputeevidence",
            name="status",
            field=models.CharField(
                choices=[("processing", "being processed"), ("done", "Done")],
                default="processing",
                max_length=16,
            ),
        ),
    ]
