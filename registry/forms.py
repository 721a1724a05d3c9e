"""Forms for the artists' pages: they check shape and length only.

The rules (duplicate claims, hash formats) live in the services; views turn a
DomainError into an error on the field it names, so the page shows the
service's own words.
"""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.forms import ReasonForm
from core.forms import MultipleFileField, MultipleFileInput
from registry.models import PAYMENT_KINDS, Claim
from workers.engine.descriptor import TEXT_MAX_CHARS as DESCRIPTOR_MAX_CHARS


class BecomeArtistForm(forms.Form):
    display_name = forms.CharField(
        max_length=200, help_text="The name shown with your works."
    )


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
    descriptor_version = forms.CharField(
        label="Descriptor version",
        max_length=96,
        required=False,
        help_text="As manage.py fingerprint prints it, e.g. "
        "descriptor-v3:9bcacd6cd303:r2.",
    )
    descriptor = forms.CharField(
        label="Descriptor",
        max_length=DESCRIPTOR_MAX_CHARS,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="The long base64 line manage.py fingerprint prints: it lets "
        "the registry find edited copies (listed as possible matches).",
    )

    def __init__(self, *args: Any, works: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["work"] = WorkChoiceField(
            works=works,
            blank="A new work",
            label="Add to work",
            help_text="Leave as it is to register a new work with this title.",
        )
        for name in (
            "sha256",
            "md5",
            "phash",
            "pdq",
            "descriptor_version",
            "descriptor",
        ):
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
        "(https://example.com/art/), a domain (example.com) or a name. http or "
        "https and a leading www. do not matter.",
    )
    aliases = forms.CharField(
        max_length=2000,
        required=False,
        help_text="Style names only: other spellings, separated by commas.",
    )

    search = forms.ChoiceField(
        label="Search engines",
        choices=[("", "not said"), ("y", "allowed"), ("n", "not allowed")],
        required=False,
        help_text="URLs, prefixes and domains: whether search engines may index "
        "and link to these works (AI training is always refused).",
    )
    ai_use = forms.ChoiceField(
        label="AI use (retrieval, grounding)",
        choices=[("", "not said"), ("y", "allowed"), ("n", "not allowed")],
        required=False,
        help_text="Whether AI systems may use these works as input when they "
        "answer (not training).",
    )

    def alias_list(self) -> list[str]:
        raw = self.cleaned_data.get("aliases") or ""
        return [a.strip() for a in raw.split(",") if a.strip()]

    def preferences(self) -> dict[str, str]:
        """The per-use preferences chosen (train-ai is always n)."""
        chosen = {
            "search": self.cleaned_data.get("search") or "",
            "ai-use": self.cleaned_data.get("ai_use") or "",
        }
        return {category: value for category, value in chosen.items() if value}


class BulkClaimForm(forms.Form):
    kind = forms.ChoiceField(
        label="Each line is",
        choices=[
            (Claim.Kind.URL, "an exact URL"),
            (Claim.Kind.PREFIX, "a URL prefix"),
            (Claim.Kind.DOMAIN, "a domain"),
        ],
        initial=Claim.Kind.URL,
        help_text="A line “prefix,https://…” or “domain,example.com” says its own "
        "kind (CSV with the columns kind,value works too).",
    )
    lines = forms.CharField(
        label="URLs, one per line",
        required=False,
        max_length=8 * 1024 * 1024,
        widget=forms.Textarea(attrs={"rows": 10, "class": "mono"}),
    )
    file = forms.FileField(
        label="…or a text or CSV file",
        required=False,
        help_text="UTF-8, one claim per line.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("lines", "").strip() and not cleaned.get("file"):
            raise forms.ValidationError("Paste some URLs or choose a file.")
        return cleaned


class ProfileForm(forms.Form):
    display_name = forms.CharField(max_length=200, required=False)
    contact_email = forms.EmailField(label="Contact email")
    website = forms.URLField(required=False, assume_scheme="https")


class StyleDecisionForm(ReasonForm):
    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("reject", "Reject")],
        error_messages={"required": "decision: choose approve or reject"},
    )


class OptInForm(forms.Form):
    """The terms of an offer for AI training (registry/services/optins.py
    checks them and names the field it refuses)."""

    licence = forms.CharField(
        label="Licence URL",
        max_length=4096,
        help_text="Where your terms are: a licence page, or an RSL licence document.",
    )
    payment = forms.ChoiceField(
        label="Payment",
        choices=[(k, k) for k in PAYMENT_KINDS],
        help_text="What a licensee owes, as RSL names it: free, attribution, "
        "purchase, subscription, per training, per crawl, per use, contribution.",
    )
    contact = forms.CharField(
        label="Contact (optional)",
        max_length=1024,
        required=False,
        help_text="An email address or a URL for licensing questions: curators see it.",
    )
