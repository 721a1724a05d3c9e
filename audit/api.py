"""The audit and notifications API (/api/v1/audit/, /api/v1/notifications/)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import AuditEvent
from audit.selectors import AuditFilters
from audit.services import notification_mark_read
from core.api import errors, id_field, paginated_response
from registry.permissions import ArtistApi

from . import selectors


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

    class Meta:
        ref_name = "AuditEvent"

    def to_representation(self, instance: AuditEvent) -> dict[str, Any]:
        row = selectors.audit_event_row(instance, show_actor=False)
        row["created"] = instance.created
        return super().to_representation(row)


class AuditListApi(ArtistApi):
    class FilterSerializer(serializers.Serializer):
        action = serializers.CharField(max_length=64, required=False)
        target_type = serializers.CharField(max_length=32, required=False)
        since = serializers.DateField(required=False)
        until = serializers.DateField(required=False)

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
        summary="Your audit log: changes to your works and claims, newest first",
        parameters=[FilterSerializer],
        responses={200: AuditEventOutputSerializer(many=True), **errors(400, 401, 403)},
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
    class FilterSerializer(serializers.Serializer):
        unread = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        tags=["notifications"],
        summary="Your notifications, unread first",
        parameters=[OpenApiParameter("unread", bool)],
        responses={200: NotificationOutputSerializer(many=True), **errors(400, 401)},
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
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        marked = notification_mark_read(
            user=request.user, notification_ids=serializer.validated_data.get("ids")
        )
        return Response(self.OutputSerializer({"marked": marked}).data)
