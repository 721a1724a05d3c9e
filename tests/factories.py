from __future__ import annotations

import factory
from django.utils import timezone

from accounts.models import User
from registry.models import Claim, RightsHolder, Work


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    email_verified_at = factory.LazyFunction(timezone.now)
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class RightsHolderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RightsHolder

    user = factory.SubFactory(UserFactory, is_artist=True)
    display_name = factory.LazyAttribute(lambda h: f"Artist {h.user.username}")
    contact_email = factory.LazyAttribute(lambda h: h.user.email)


class WorkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Work

    owner = factory.SubFactory(RightsHolderFactory)
    title = factory.Sequence(lambda n: f"Work {n}")


class ClaimFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Claim

    owner = factory.SubFactory(RightsHolderFactory)
    kind = Claim.Kind.URL
    value = factory.Sequence(lambda n: f"https://art.example.com/{n}.png")
    normalized = factory.LazyAttribute(lambda c: c.value)
    state = Claim.State.ACTIVE


def approved_prefix(holder, value: str):
    """A prefix claim enforced as an admin's approval enforces it (the holder
    has not proved the host: a prefix waits for that or an admin)."""
    from registry.services import claim_create, claim_review

    claim = claim_create(owner=holder, kind="prefix", value=value)
    return claim_review(claim_id=claim.pk, approve=True)
