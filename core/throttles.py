"""Rate limits: DRF's throttles (the cache, a sliding window per account, or
per address for the signed-out), for the API and for the pages alike.

Rates come from settings.RATE_LIMITS at each request, so operators (and tests)
change them without a restart of the class attributes DRF would otherwise
freeze at import. Log-in failures are django-axes' work (settings AXES_*).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle


def client_ip(request: Any) -> str:
    """The client's address as the rate limits and django-axes count it:
    REMOTE_ADDR, or X-Forwarded-For behind TRUSTED_PROXY_COUNT proxies
    (DRF's NUM_PROXIES rule)."""
    return BaseThrottle().get_ident(request)


class SettingsRateThrottle(SimpleRateThrottle):
    """One named limit from settings.RATE_LIMITS; only `methods` count."""

    scope = ""
    methods: tuple[str, ...] = ("POST",)
    per_address = False

    def __init__(self) -> None:  # the rate is read per request, not here
        pass

    def allow_request(self, request: Any, view: Any) -> bool:
        if request.method not in self.methods:
            return True
        self.rate = settings.RATE_LIMITS.get(self.scope) or None
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Any, view: Any) -> str:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not self.per_address:
            ident = f"user-{user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class SignupThrottle(SettingsRateThrottle):
    scope = "signup"
    per_address = True


class DisputeThrottle(SettingsRateThrottle):
    scope = "disputes"


class LookupThrottle(SettingsRateThrottle):
    scope = "lookups"


class CheckNowThrottle(SettingsRateThrottle):
    scope = "check_now"


PAGE_WORDS = {
    "signup": "sign-ups from your address",
    "disputes": "new disputes",
    "lookups": "lookups",
    "check_now": "checks of a domain's proof",
}


def page_throttled(
    request: HttpRequest, throttle_class: type[SettingsRateThrottle]
) -> HttpResponse | None:
    """For a page: None when the request may go on, else a 429 page saying
    when to try again (and a Retry-After header)."""
    throttle = throttle_class()
    if throttle.allow_request(request, None):
        return None
    wait = int(throttle.wait() or 60) + 1
    minutes = max(1, round(wait / 60))
    response = render(
        request,
        "429.html",
        {
            "what": PAGE_WORDS.get(throttle.scope, "requests"),
            "minutes": minutes,
            "rate": throttle.rate,
        },
        status=429,
    )
    response["Retry-After"] = str(wait)
    return response
