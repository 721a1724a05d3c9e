"""Forms for disputes, false-match reports and review decisions: shape only.

The rules (who may do what, in which state) live in disputes.services; pages
show its messages on the field they name.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from core.forms import MultipleFileField, MultipleFileInput
from disputes.models import Dispute, FalseMatchReport


class DisputeForm(forms.Form):
    target = forms.CharField(widget=forms.HiddenInput, max_length=40)
    grounds = forms.ChoiceField(
        choices=Dispute.Grounds.choices, widget=forms.RadioSelect
    )
    statement = forms.CharField(
        label="Why the registration is wrong",
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="What you know and how: who made it, when, under which licence.",
    )
    named = forms.BooleanField(
        label="Show my username to the claimant",
        required=False,
        help_text="Otherwise they see “another user”; admins always see who you are.",
    )
    evidence_urls = forms.CharField(
        label="Evidence links",
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One URL per line: earlier publications, licences, archives.",
    )
    files = MultipleFileField(
        label="Evidence files",
        required=False,
        help_text="Images are fingerprinted and compared with the disputed work; "
        "other files (PDF, text) are kept for the admins.",
        widget=MultipleFileInput(),
    )

    def __init__(self, *args: Any, style: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[
            "statement"
        ].help_text += f" At least {settings.DISPUTE_STATEMENT_MIN_CHARS} characters."
        if not style:
            self.fields["grounds"].choices = [
                c for c in Dispute.Grounds.choices if c[0] != "impersonation"
            ]

    def url_list(self) -> list[str]:
        return [
            line.strip()
            for line in self.cleaned_data.get("evidence_urls", "").splitlines()
            if line.strip()
        ]


class ResponseForm(forms.Form):
    response = forms.CharField(
        label="Your response",
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Why the registration is right: dates, links, how you made it.",
    )
    files = MultipleFileField(
        label="Evidence files", required=False, widget=MultipleFileInput()
    )


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=Dispute.Outcome.choices, widget=forms.RadioSelect
    )
    reason = forms.CharField(
        label="Reason",
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Both sides read it, and it goes into the audit log.",
        error_messages={"required": "Give a reason for the decision."},
    )
    narrowed_to = forms.CharField(
        label="Narrower URL prefix",
        required=False,
        max_length=2048,
        help_text="Narrowed claims only: the prefix that stays enforced.",
    )
    excluded_images = forms.TypedMultipleChoiceField(
        label="Images to leave out",
        required=False,
        coerce=int,
        choices=[],
        widget=forms.CheckboxSelectMultiple,
        help_text="Narrowed works only.",
    )

    def __init__(
        self, *args: Any, images: list[tuple[int, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if images:
            self.fields["excluded_images"].choices = images
        else:
            del self.fields["excluded_images"]


class ConfirmForm(forms.Form):
    reason = forms.CharField(
        label="Reason (required to decline)",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ReportForm(forms.Form):
    reason = forms.ChoiceField(
        choices=FalseMatchReport.Reason.choices, widget=forms.RadioSelect
    )
    text = forms.CharField(
        label="Details",
        required=False,
        max_length=5_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the row really shows; required for “other”.",
    )


class ReportDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            ("accept", "Agree: never match this row to this claim or image again"),
            ("reject", "Disagree: the match stands"),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label="Reason",
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Give a reason for the decision."},
    )
