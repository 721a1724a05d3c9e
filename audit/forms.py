"""The audit log's filter form: shape only."""

from __future__ import annotations

from django import forms

from audit.selectors import AuditFilters


class AuditFilterForm(forms.Form):
    action = forms.CharField(max_length=64, required=False)
    target_type = forms.CharField(max_length=32, required=False, label="Target type")
    actor = forms.CharField(max_length=150, required=False, help_text="A username.")
    holder = forms.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, label="Holder id"
    )
    since = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "until: must not be before since")
        return data

    def filters(self, *, staff: bool) -> AuditFilters:
        data = self.cleaned_data
        return AuditFilters(
            action=data.get("action") or "",
            target_type=data.get("target_type") or "",
            actor=(data.get("actor") or "") if staff else "",
            holder=data.get("holder") if staff else None,
            since=data.get("since"),
            until=data.get("until"),
        )
