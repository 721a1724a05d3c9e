"""Form pieces every app shares: multiple-file fields and service errors shown
on the field they name.
"""

from __future__ import annotations

from typing import Any

from django import forms

from core.errors import DomainError


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Show a service's error on the field it names, or above the form."""
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.Field):
    """The raw list of uploaded files; each is checked by registry.uploads."""

    widget = MultipleFileInput

    def to_python(self, data: Any) -> list[Any]:
        if not data:
            return []
        return list(data) if isinstance(data, list | tuple) else [data]
