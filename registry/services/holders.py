"""Rights holders: the artist profile an account registers under."""

from __future__ import annotations

from accounts.models import User
from core.errors import ValidationFailed
from registry.models import RightsHolder


def rights_holder_create(
    *, user: User, display_name: str, website: str = ""
) -> RightsHolder:
    """Make `user` an artist (idempotent)."""
    holder, _ = RightsHolder.objects.get_or_create(
        user=user,
        defaults={
            "display_name": display_name,
            "contact_email": user.email,
            "website": website,
        },
    )
    if not user.is_artist:
        User.objects.filter(pk=user.pk).update(is_artist=True)
        user.is_artist = True
    return holder


def rights_holder_update(
    *,
    holder: RightsHolder,
    display_name: str | None = None,
    contact_email: str | None = None,
    website: str | None = None,
) -> RightsHolder:
    if display_name is not None:
        if not display_name.strip():
            raise ValidationFailed(
                "display_name may not be blank", field="display_name"
            )
        holder.display_name = display_name.strip()
    if contact_email is not None:
        holder.contact_email = contact_email
    if website is not None:
        holder.website = website
    holder.save()
    return holder


def rights_holder_set_verified(*, holder: RightsHolder, verified: bool) -> RightsHolder:
    holder.verified = verified
    holder.save(update_fields=["verified"])
    return holder
