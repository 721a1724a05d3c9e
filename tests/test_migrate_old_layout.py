"""A database made before accounts, audit and disputes had apps of their own
migrates to the new layout with nothing lost.

The test takes the suite's database back to the old layout (registry 0005,
optout 0003, content types under `registry`, no record of the new apps'
migrations, while Django admin's migrations stay applied, exactly as on a real
installation), fills it through the old models, runs `migrate` and reads every
row back through the new ones.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import connection
from django.db.migrations.exceptions import InconsistentMigrationHistory
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from accounts.models import ApiToken, User
from audit.models import AuditEvent, Notification
from disputes.models import Dispute, ImageExclusion, MatchException
from registry.models import Claim, Image, RightsHolder, Work

OLD_LEAVES = [
    ("registry", "0005_merge_20261124_1217"),
    ("optout", "0003_match_agreement"),
]
NEW_APPS_FIRST = [
    ("accounts", "0001_initial"),
    ("audit", "0001_initial"),
    ("disputes", "0001_initial"),
]

pytestmark = pytest.mark.django_db(transaction=True)


def back_to_the_old_layout():
    """Undo the move, and forget the new apps as an old database never knew them."""
    executor = MigrationExecutor(connection)
    # The new apps' later migrations first (added after the move), then the move.
    executor.migrate(NEW_APPS_FIRST)
    executor.loader.build_graph()
    executor.migrate(OLD_LEAVES)
    recorder = MigrationRecorder(connection)
    for app, name in NEW_APPS_FIRST:
        recorder.record_unapplied(app, name)
    executor.loader.build_graph()
    return executor.loader.project_state(OLD_LEAVES).apps


def fill(old):
    """Rows in every moved table, written through the old layout's models."""
    ContentType = old.get_model("contenttypes", "ContentType")
    Permission = old.get_model("auth", "Permission")
    user_type = ContentType.objects.get(app_label="registry", model="user")
    permission = Permission.objects.get_or_create(
        content_type=user_type, codename="view_user", defaults={"name": "Can view"}
    )[0]
    OldUser = old.get_model("registry", "User")
    alice = OldUser.objects.create(
        username="alice", email="alice@example.com", is_artist=True
    )
    admin = OldUser.objects.create(
        username="root", email="root@example.com", is_staff=True
    )
    alice.user_permissions.add(permission)
    holder = old.get_model("registry", "RightsHolder").objects.create(
        user=alice, display_name="Alice"
    )
    old.get_model("registry", "ApiToken").objects.create(
        user=alice, name="laptop", key_prefix="dnt_abc", key_hash="0" * 64
    )
    work = old.get_model("registry", "Work").objects.create(owner=holder, title="Boats")
    image = old.get_model("registry", "Image").objects.create(work=work)
    claim = old.get_model("registry", "Claim").objects.create(
        owner=holder,
        kind="url",
        value="https://alice.example/boats.jpg",
        normalized="https://alice.example/boats.jpg",
        state="active",
    )
    old.get_model("registry", "AuditEvent").objects.create(
        actor=alice, action="claim.create", target_type="claim", target_id=claim.pk
    )
    old.get_model("registry", "Notification").objects.create(
        user=alice, kind="dispute.opened", subject="A dispute"
    )
    dispute = old.get_model("registry", "Dispute").objects.create(
        disputer=admin,
        holder=holder,
        target_type="claim",
        target_key=f"claim:{claim.pk}",
        claim=claim,
        grounds="other",
        statement="Mine: I painted it in 2019, the file has my signature.",
        state="awaiting_response",
    )
    old.get_model("registry", "ImageExclusion").objects.create(
        image=image, dispute=dispute
    )
    old.get_model("registry", "MatchException").objects.create(
        target_key=f"claim:{claim.pk}",
        claim=claim,
        key_type="url",
        key="https://alice.example/boats.jpg?w=300",
        revision=1,
        created_by=admin,
    )
    return alice.pk, claim.pk, dispute.pk, image.pk


def test_djangos_own_migrate_refuses_an_old_database():
    back_to_the_old_layout()
    try:
        with pytest.raises(InconsistentMigrationHistory, match="accounts.0001"):
            call_command(DjangoMigrate(), verbosity=0)
    finally:
        call_command("migrate", verbosity=0)


def test_an_old_database_migrates_with_every_row_kept(capsys):
    old = back_to_the_old_layout()
    alice_id, claim_id, dispute_id, image_id = fill(old)

    call_command("migrate", verbosity=1)

    assert "Adopted a database of the old layout" in capsys.readouterr().out
    alice = User.objects.get(pk=alice_id)
    assert alice.username == "alice" and alice.is_artist
    assert RightsHolder.objects.get(user=alice).display_name == "Alice"
    assert ApiToken.objects.get(user=alice).name == "laptop"
    assert Work.objects.get(owner__user=alice).title == "Boats"
    assert Image.objects.filter(pk=image_id).exists()
    assert Claim.objects.get(pk=claim_id).is_enforced
    assert AuditEvent.objects.get(target_id=claim_id).actor == alice
    assert Notification.objects.get(user=alice).subject == "A dispute"
    dispute = Dispute.objects.get(pk=dispute_id)
    assert dispute.claim_id == claim_id and dispute.disputer.username == "root"
    assert ImageExclusion.objects.get(image_id=image_id).dispute == dispute
    assert MatchException.objects.get(claim_id=claim_id).created_by.username == "root"
    # The permission followed its content type to the accounts app.
    assert User.objects.get(pk=alice_id).has_perm("accounts.view_user")
    from django.contrib.contenttypes.models import ContentType

    assert not ContentType.objects.filter(app_label="registry", model="user").exists()
    # Migrating again changes nothing, and the models match the migrations.
    call_command("migrate", verbosity=0)
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_a_new_database_needs_no_adoption():
    from accounts.management.commands.migrate import adopt_old_layout

    assert adopt_old_layout() is False
