"""Audit events in words on the pages: {{ event|audit_sentence:staff }}."""

from __future__ import annotations

from django import template

from audit.models import AuditEvent
from audit.selectors import actor_words, audit_change_words
from audit.selectors import audit_sentence as _sentence

register = template.Library()


@register.filter
def audit_sentence(event: AuditEvent, staff: bool = False) -> str:
    return _sentence(event, who=actor_words(event, bool(staff)))


@register.filter
def audit_change(event: AuditEvent) -> str:
    return audit_change_words(event)
