"""Opt-ins: offer a claim's URLs or a work for AI training on stated terms
(PUT), or withdraw the offer (DELETE). registry/services/optins.py says who
may."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Scope
from core.api import path_id
from registry import selectors
from registry.api.examples import CLAIM_DOMAIN_EXAMPLE, WORK_DETAIL_EXAMPLE
from registry.api.shared import ClaimOutputSerializer, WorkDetailOutputSerializer
from registry.models import PAYMENT_KINDS
from registry.permissions import ArtistApi, artist_errors
from registry.services.optins import opt_in_end, opt_in_set

TERMS_EXAMPLE = {
    "licence": "https://alice.example/licence.html",
    "payment": "attribution",
    "contact": "licensing@alice.example",
}

OFFER_EXAMPLE = {**TERMS_EXAMPLE, "verified": "domain proof (alice.example)"}


class TermsInputSerializer(serializers.Serializer):
    # Checked by the service, which names the field in its errors.
    licence = serializers.CharField(
        max_length=4096,
        allow_blank=True,
        help_text="An http(s) URL: the licence's terms, or an RSL licence document.",
    )
    payment = serializers.CharField(
        max_length=64,
        allow_blank=True,
        help_text="What a licensee owes (RSL 1.0 payment types): "
        + ", ".join(PAYMENT_KINDS)
        + ".",
    )
    contact = serializers.CharField(
        max_length=1024,
        required=False,
        allow_blank=True,
        help_text="An email address or an http(s) URL for licensing questions.",
    )

    class Meta:
        ref_name = "OptInInput"


_RULES = (
    "Consent counts only from whoever controls the site: the holder must "
    "have an enforced (verified) domain claim on the host of the claim's URL, "
    "prefix or domain, or of one of the work's source URLs; otherwise a 400 "
    "names `claim` or `source_urls`. From the new registry revision on, "
    "matches on it no longer remove rows: they are level `opt-in`, listed in "
    "reports with these terms, `optIn` is true in the Spawning-compatible "
    "answer, and preferences say train-ai=y; a refusal by anyone else still "
    "wins. The offer ends by itself when the claim or work stops being "
    "enforced or the domain proof is lost."
)


class _OptInApi(ArtistApi):
    required_scopes = Scope.REGISTER
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    target = "claim"

    def _answer(self, pk: int) -> Response:
        if self.target == "claim":
            claim = selectors.claim_get_for_owner(owner=self.holder, claim_id=pk)
            return Response(ClaimOutputSerializer(claim).data)
        work = selectors.work_get_for_owner(owner=self.holder, work_id=pk)
        return Response(
            WorkDetailOutputSerializer(work, context={"request": self.request}).data
        )

    def _ids(self, pk: int) -> dict[str, Any]:
        return {f"{self.target}_id": pk}

    def _put(self, request: Request, pk: int) -> Response:
        data = TermsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        opt_in_set(owner=self.holder, **self._ids(pk), **data.validated_data)
        return self._answer(pk)

    def _delete(self, request: Request, pk: int) -> Response:
        opt_in_end(owner=self.holder, **self._ids(pk))
        return self._answer(pk)


def _example(output: dict[str, Any]) -> list[OpenApiExample]:
    return [
        OpenApiExample("Terms", value=TERMS_EXAMPLE, request_only=True),
        OpenApiExample(
            "Offered",
            value=output,
            response_only=True,
            status_codes=["200"],
        ),
    ]


class ClaimOptInApi(_OptInApi):
    target = "claim"

    @extend_schema(
        tags=["claims"],
        summary="Offer a claim's URLs for AI training on terms",
        description="Sets (or changes) the terms on which what this URL, prefix "
        "or domain claim covers may be used for AI training. " + _RULES,
        parameters=[path_id("claim_id")],
        request=TermsInputSerializer,
        responses={
            200: ClaimOutputSerializer,
            **artist_errors(400, 401, 403, 404, 409),
        },
        examples=_example(
            {
                **CLAIM_DOMAIN_EXAMPLE,
                "state": "active",
                "preferences": {"train-ai": "y", "search": "y"},
                "opt_in": OFFER_EXAMPLE,
            }
        ),
    )
    def put(self, request: Request, claim_id: int) -> Response:
        return self._put(request, claim_id)

    @extend_schema(
        tags=["claims"],
        summary="Withdraw a claim's offer for AI training",
        description="From the next registry revision the claim refuses AI "
        "training again (train-ai=n). No offer standing is a 409.",
        parameters=[path_id("claim_id")],
        request=None,
        responses={200: ClaimOutputSerializer, **artist_errors(401, 403, 404, 409)},
        examples=[
            OpenApiExample(
                "Refusing again",
                value={**CLAIM_DOMAIN_EXAMPLE, "state": "active"},
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    def delete(self, request: Request, claim_id: int) -> Response:
        return self._delete(request, claim_id)


class WorkOptInApi(_OptInApi):
    target = "work"

    @extend_schema(
        tags=["works"],
        summary="Offer a work for AI training on terms",
        description="Sets (or changes) the terms on which copies of this work's "
        "images may be used for AI training. A copy found only at level "
        "`possible` neither removes nor consents. " + _RULES,
        parameters=[path_id("work_id")],
        request=TermsInputSerializer,
        responses={
            200: WorkDetailOutputSerializer,
            **artist_errors(400, 401, 403, 404, 409),
        },
        examples=_example({**WORK_DETAIL_EXAMPLE, "opt_in": OFFER_EXAMPLE}),
    )
    def put(self, request: Request, work_id: int) -> Response:
        return self._put(request, work_id)

    @extend_schema(
        tags=["works"],
        summary="Withdraw a work's offer for AI training",
        description="From the next registry revision copies of the work are "
        "removed again. No offer standing is a 409.",
        parameters=[path_id("work_id")],
        request=None,
        responses={
            200: WorkDetailOutputSerializer,
            **artist_errors(401, 403, 404, 409),
        },
        examples=[
            OpenApiExample(
                "Refusing again",
                value=WORK_DETAIL_EXAMPLE,
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    def delete(self, request: Request, work_id: int) -> Response:
        return self._delete(request, work_id)
