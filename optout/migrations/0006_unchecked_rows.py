"""Rows that could not be checked: their own table, counts named for them, the
curator's choice to keep them, and the columns a manifest offers."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("optout", "0005_match_matched_as"),
    ]

    operations = [
        migrations.AddField(
            model_name="manifest",
            name="found_columns",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="matchjob",
            name="keep_unchecked",
            field=models.BooleanField(default=False),
        ),
        migrations.RenameField(
            model_name="matchjob", old_name="rows_skipped", new_name="rows_unchecked"
        ),
        migrations.RenameField(
            model_name="matchjob",
            old_name="skipped_reasons",
            new_name="unchecked_reasons",
        ),
        migrations.RenameField(
            model_name="chunk", old_name="rows_skipped", new_name="rows_unchecked"
        ),
        migrations.RenameField(
            model_name="chunk",
            old_name="skipped_reasons",
            new_name="unchecked_reasons",
        ),
        migrations.RemoveField(model_name="chunk", name="problems"),
        migrations.CreateModel(
            name="UncheckedRow",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("row", models.BigIntegerField()),
                ("key", models.CharField(blank=True, max_length=255)),
                ("url", models.TextField(blank=True)),
                ("signal", models.CharField(max_length=16)),
                ("field", models.CharField(blank=True, max_length=255)),
                ("reason", models.TextField()),
                (
                    "chunk",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="optout.chunk",
                    ),
                ),
                (
                    "job",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="unchecked_rows",
                        to="optout.matchjob",
                    ),
                ),
            ],
            options={
                "ordering": ["row", "id"],
                "indexes": [
                    models.Index(fields=["job", "row"], name="unchecked_job_row")
                ],
            },
        ),
    ]
