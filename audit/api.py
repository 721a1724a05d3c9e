"""The audit and notifications API (/api/v1/audit/, /api/v1/notifications/)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Scope
from accounts.permissions import ANY_SCOPE
from audit.models import AuditEvent
from audit.selectors import AuditFilters
from audit.services import notification_mark_read
from core.api import Pagination, errors, id_field, paginated_response
from registry.permissions import ArtistApi, artist_errors

from . import selectors

# Examples for the schema, kept next to the serializers they must fit.
AUDIT_EVENT_EXAMPLE = {
    "id": 4812,
    "created": "2026-11-24T08:20:00Z",
    "action": "claim.withdraw",
    "actor": "you",
    "target_type": "claim",
    "target_id": 311,
    "target_label": "exact URL: https://alice-moreau.example/portfolio/",
    "before": {"state": "active"},
    "after": {"state": "withdrawn"},
    "reason": "",
    "revision": 1207,
    "sentence": "You withdrew the claim “exact URL: "
    "https://alice-moreau.example/portfolio/”.",
    "change": "state: active → withdrawn",
}
AUDIT_EVENT_ADMIN_EXAMPLE = {
    "id": 4790,
    "created": "2026-11-20T14:02:31Z",
    "action": "claim.suspend",
    "actor": "admin",
    "target_type": "claim",
    "target_id": 298,
    "target_label": "domain: alice-moreau.example",
    "before": {"state": "active"},
    "after": {"state": "suspended"},
    "reason": "The domain's proof of control was removed.",
    "revision": 1199,
    "sentence": "An admin suspended the claim “domain: alice-moreau.example”.",
    "change": "state: active → suspended",
}
NOTIFICATION_EXAMPLE = {
    "id": 205,
    "kind": "dispute_resolved",
    "subject": "Dispute #41 was decided: narrowed",
    "body": "Narrowed: the claim now covers the portfolio pages only.",
    "url": "/disputes/41/",
    "created": "2026-11-24T08:20:00Z",
    "read_at": None,
}
NOTIFICATION_READ_SOME_EXAMPLE = {"ids": [205, 198]}
NOTIFICATION_READ_ALL_EXAMPLE: dict[str, Any] = {}
NOTIFICATION_READ_RESULT_EXAMPLE = {"marked": 2}


class AuditEventOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    action = serializers.CharField()
    actor = serializers.CharField(
        help_text='"you", "admin", "another user" or "system": no names.'
    )
    target_type = serializers.CharField()
    target_id = serializers.IntegerField(allow_null=True)
    target_label = serializers.CharField()
    before = serializers.DictField()
    after = serializers.DictField()
    reason = serializers.CharField()
    revision = serializers.IntegerField(allow_null=True)
    sentence = serializers.CharField(
        help_text="The event in words: “You withdrew the claim “…”.”"
    )
    change = serializers.CharField(
        help_text="before → after in words: “state: active → withdrawn”."
    )

    class Meta:
        ref_name = "AuditEvent"

    def to_representation(self, instance: AuditEvent) -> dict[str, Any]:
        row = selectors.audit_event_row(instance, show_actor=False)
        row["created"] = instance.created
        return super().to_representation(row)


class AuditListApi(ArtistApi):
    required_scopes = (Scope.REGISTER, Scope.REVIEW)

    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        action = serializers.CharField(
            max_length=64,
            required=False,
            help_text='Only this action, exactly: "claim.create", …',
        )
        target_type = serializers.CharField(
            max_length=32,
            required=False,
            help_text='Only this kind of target, exactly: "claim", "work", …',
        )
        since = serializers.DateField(
            required=False, help_text="From the start of this day (YYYY-MM-DD)."
        )
        until = serializers.DateField(
            required=False,
            help_text="To the end of this day, included (YYYY-MM-DD); not "
            "before since.",
        )

        def validate(self, data: dict[str, Any]) -> dict[str, Any]:
            if (
                data.get("since")
                and data.get("until")
                and data["since"] > data["until"]
            ):
                raise serializers.ValidationError(
                    {"until": ["must not be before since"]}
                )
            return data

    @extend_schema(
        tags=["audit"],
        summary="Your audit log, newest first",
        description="The events about the signed-in artist's own entries (works, "
        "images, claims, disputes and false-match reports about them, the "
        "account's suspension), newest first, 50 to a page (`?page=`; a page "
        "past the last is a 404). Who acted is a role, never a name. Only "
        "accounts with an artist profile may call it (403 otherwise); filters "
        "combine, and days are in the server's time zone.",
        parameters=[FilterSerializer],
        responses={
            200: AuditEventOutputSerializer(many=True),
            **artist_errors(400, 401, 403, 404),
        },
        examples=[
            OpenApiExample(
                "You withdrew a claim", value=AUDIT_EVENT_EXAMPLE, response_only=True
            ),
            OpenApiExample(
                "An admin suspended a claim",
                value=AUDIT_EVENT_ADMIN_EXAMPLE,
                response_only=True,
            ),
        ],
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        events = selectors.audit_event_list(
            filters=AuditFilters(**filters.validated_data), holder=self.holder
        )
        return paginated_response(
            queryset=events,
            serializer_class=AuditEventOutputSerializer,
            request=request,
            view=self,
        )


class NotificationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    subject = serializers.CharField()
    body = serializers.CharField()
    url = serializers.CharField()
    created = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "Notification"


class NotificationListApi(APIView):
    required_scopes = ANY_SCOPE

    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        unread = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        tags=["notifications"],
        summary="Your notifications, unread first",
        description="The signed-in account's notifications (the same ones are "
        "emailed): unread first, then newest first, 50 to a page (`?page=`; a "
        "page past the last is a 404). `url` is a path on the site, or empty. "
        "Any signed-in account may call it; listing marks nothing read.",
        parameters=[
            OpenApiParameter("unread", bool, description="true: only the unread ones.")
        ],
        responses={
            200: NotificationOutputSerializer(many=True),
            **errors(400, 401, 404),
        },
        examples=[
            OpenApiExample(
                "A decided dispute", value=NOTIFICATION_EXAMPLE, response_only=True
            ),
        ],
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        notes = selectors.notification_list_for_user(
            user=request.user, unread_only=filters.validated_data["unread"]
        )
        return paginated_response(
            queryset=notes,
            serializer_class=NotificationOutputSerializer,
            request=request,
            view=self,
        )


class NotificationReadApi(APIView):
    required_scopes = ANY_SCOPE

    class InputSerializer(serializers.Serializer):
        ids = serializers.ListField(
            child=id_field(),
            required=False,
            allow_null=True,
            max_length=1000,
            help_text="Which to mark read; leave out to mark all read.",
        )

        class Meta:
            ref_name = "NotificationRead"

    class OutputSerializer(serializers.Serializer):
        marked = serializers.IntegerField(help_text="How many were unread.")

        class Meta:
            ref_name = "NotificationReadResult"

    @extend_schema(
        tags=["notifications"],
        summary="Mark notifications read",
        description="Marks the signed-in account's unread notifications read: "
        "those in `ids` (at most 1000), or all of them when `ids` is left out "
        "or null. Ids that are not yours, unknown or already read are skipped "
        "without an error, so calling it again is harmless; `marked` counts "
        "the ones this call changed.",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(400, 401)},
        examples=[
            OpenApiExample(
                "Mark two read",
                value=NOTIFICATION_READ_SOME_EXAMPLE,
                request_only=True,
            ),
            OpenApiExample(
                "Mark all read",
                value=NOTIFICATION_READ_ALL_EXAMPLE,
                request_only=True,
            ),
            OpenApiExample(
                "Two were unread",
                value=NOTIFICATION_READ_RESULT_EXAMPLE,
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        marked = notification_mark_read(
            user=request.user, notification_ids=serializer.validated_data.get("ids")
        )
        return Response(self.OutputSerializer({"marked": marked}).data)
