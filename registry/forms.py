"""Forms for the artists' pages: they check shape and length only.

The rules (taken usernames, duplicate claims, hash formats) live in the services;
views turn a DomainError into an error on the field it names, so the page shows
the service's own words.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.validators import UnicodeUsernameValidator

from .errors import DomainError
from .models import Claim, User

ROLE_ARTIST = "artist"
ROLE_CURATOR = "curator"


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Show a service's error on the field it names, or above the form."""
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


class SignupForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="Letters, digits and @ . + - _ only.",
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    display_name = forms.CharField(
        max_length=200,
        required=False,
        help_text="The name shown with your works. Defaults to your username.",
    )
    # Not required here: the service says "choose at least one role" itself.
    roles = forms.MultipleChoiceField(
        label="Roles",
        choices=[
            (ROLE_ARTIST, "I am an artist / rights holder"),
            (ROLE_CURATOR, "I am a dataset curator"),
        ],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        password1 = cleaned.get("password1")
        password2 = cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "the two passwords do not match")
        elif password1:
            candidate = User(
                username=cleaned.get("username", ""), email=cleaned.get("email", "")
            )
            try:
                password_validation.validate_password(password1, candidate)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class BecomeArtistForm(forms.Form):
    display_name = forms.CharField(
        max_length=200, help_text="The name shown with your works."
    )


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.Field):
    """The raw list of uploaded files; each is checked by registry.uploads."""

    widget = MultipleFileInput

    def to_python(self, data: Any) -> list[Any]:
        if not data:
            return []
        return list(data) if isinstance(data, list | tuple) else [data]


class WorkChoiceField(forms.TypedChoiceField):
    def __init__(
        self, *, works: list[tuple[int, str]], blank: str, **kwargs: Any
    ) -> None:
        super().__init__(
            choices=[("", blank)] + list(works),
            coerce=int,
            empty_value=None,
            required=False,
            **kwargs,
        )


class UploadForm(forms.Form):
    files = MultipleFileField(
        label="Images or ZIP archives",
        required=False,
        widget=MultipleFileInput(attrs={"accept": "image/*,.zip", "required": True}),
    )

    def __init__(self, *args: Any, works: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["work"] = WorkChoiceField(
            works=works,
            blank="A new work for each image",
            label="Add to work",
            help_text="Leave as it is to make each image a work of its own, "
            "titled after its file name.",
        )


class HashesForm(forms.Form):
    title = forms.CharField(
        max_length=300,
        required=False,
        help_text="Needed unless you add the hashes to an existing work.",
    )
    sha256 = forms.CharField(label="SHA-256", max_length=80, required=False)
    md5 = forms.CharField(label="MD5", max_length=48, required=False)
    phash = forms.CharField(label="pHash", max_length=32, required=False)
    pdq = forms.CharField(label="PDQ", max_length=80, required=False)
    pdq_quality = forms.IntegerField(
        label="PDQ quality", required=False, help_text="0-100, if you know it."
    )

    def __init__(self, *args: Any, works: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["work"] = WorkChoiceField(
            works=works,
            blank="A new work",
            label="Add to work",
            help_text="Leave as it is to register a new work with this title.",
        )
        for name in ("sha256", "md5", "phash", "pdq"):
            self.fields[name].widget.attrs.update(
                {"autocomplete": "off", "spellcheck": "false", "class": "mono"}
            )

    def hashes(self) -> dict[str, str]:
        return {
            name: self.cleaned_data.get(name) or ""
            for name in ("sha256", "md5", "phash", "pdq")
        }


class ClaimForm(forms.Form):
    kind = forms.ChoiceField(choices=Claim.Kind.choices)
    value = forms.CharField(
        max_length=2048,
        required=False,
        help_text="A URL (https://example.com/art/piece.png), a URL prefix "
        "(https://example.com/art/), a domain (example.com) or a name.",
    )
    aliases = forms.CharField(
        max_length=2000,
        required=False,
        help_text="Style names only: other spellings, separated by commas.",
    )

    def alias_list(self) -> list[str]:
        raw = self.cleaned_data.get("aliases") or ""
        return [a.strip() for a in raw.split(",") if a.strip()]


class ProfileForm(forms.Form):
    display_name = forms.CharField(max_length=200, required=False)
    contact_email = forms.EmailField(label="Contact email")
    website = forms.URLField(required=False, assume_scheme="https")


class TokenForm(forms.Form):
    name = forms.CharField(
        label="Token name",
        max_length=100,
        required=False,
        help_text="What the token is for, e.g. “laptop CLI” or “CI”.",
    )


class SuspensionAwareLoginForm(AuthenticationForm):
    """Says so when the password is right but the account is suspended."""

    def clean(self) -> dict[str, Any]:
        from .middleware import SUSPENDED_LOGIN_MESSAGE

        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username and password:
            user = User.objects.filter(username=username).first()
            if user and user.is_suspended and user.check_password(password):
                raise forms.ValidationError(SUSPENDED_LOGIN_MESSAGE, code="suspended")
        return super().clean()
