"""Forms of the account pages (sign-up, log-in, tokens, suspension reasons):
shape and length only; accounts.services enforces the rules.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.validators import UnicodeUsernameValidator

from accounts.models import Scope, User

ROLE_ARTIST = "artist"


ROLE_CURATOR = "curator"


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


class TokenForm(forms.Form):
    name = forms.CharField(
        label="Token name",
        max_length=100,
        required=False,
        help_text="What the token is for, e.g. “laptop CLI” or “CI”.",
    )
    scopes = forms.MultipleChoiceField(
        label="What it may do",
        choices=Scope.choices,
        initial=[Scope.CHECK],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Give a data pipeline “check” alone: it can look URLs up but "
        "not upload, claim or dispute.",
    )


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="To be sure it is you.",
    )


class SuspensionAwareLoginForm(AuthenticationForm):
    """Says so when the password is right but the account is suspended.

    The password is checked by authenticate() alone (which django-axes counts
    and locks out), never by a second check_password of our own.
    """

    def confirm_login_allowed(self, user: User) -> None:
        from .middleware import SUSPENDED_LOGIN_MESSAGE

        if user.is_suspended:
            raise forms.ValidationError(SUSPENDED_LOGIN_MESSAGE, code="suspended")
        super().confirm_login_allowed(user)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown to the artist and kept in the audit log.",
        error_messages={"required": "reason: give a reason for the decision"},
    )
