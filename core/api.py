"""What every app's REST API shares: pagination, the error body and its schema,
id parameters (the `dbid` path converter) and the JSON 404 for unknown paths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import QuerySet
from django.urls import Resolver404, register_converter, resolve
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
)
from rest_framework import exceptions, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ValidationFailed

# Ids are 64-bit signed integers in every database we run on; a bigger number
# in a URL, a filter or a body is "not found" or "invalid", never a crash.
ID_MAX = 2**63 - 1


class Pagination(PageNumberPagination):
    page_size = 50

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        # DRF's own example values ("count": 123, "next": an accounts URL on
        # api.example.org) end up in every list example of the schema; these
        # describe a one-page answer instead.
        out = super().get_paginated_response_schema(schema)
        properties = out["properties"]
        properties["count"].update(
            example=1, description="Objects in all pages together."
        )
        properties["next"].update(example=None, description="The next page, if any.")
        properties["previous"].update(
            example=None, description="The previous page, if any."
        )
        return out


def paginated_response(
    *,
    queryset: QuerySet[Any],
    serializer_class: type[serializers.Serializer],
    request: Request,
    view: APIView,
) -> Response:
    paginator = Pagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer_class(page, many=True, context={"request": request}).data
    return paginator.get_paginated_response(data)


class ErrorSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="For people; names the field.")
    code = serializers.CharField(help_text="For programs: invalid, not_found, …")
    extra = serializers.DictField(
        help_text='Details: "fields" (field -> messages), "rejected" (files).'
    )

    class Meta:
        ref_name = "Error"


_ERROR_DESCRIPTIONS = {
    400: "Invalid input; the message names the field.",
    401: "No credentials, or an invalid or revoked token.",
    403: "The account may not do this; the message says why.",
    404: "Not found, or not yours.",
    409: "The object is not in a state that allows this.",
    415: "The body's Content-Type is not one this operation reads.",
    429: "Too many requests: a rate limit or one account's limit; Retry-After "
    "(when given) says how many seconds to wait.",
    503: "A part of the service this needs is away (the task queue); nothing "
    "was done. Retry-After says how many seconds to wait.",
}


def errors(
    *codes: int, descriptions: dict[int, str] | None = None
) -> dict[int, OpenApiResponse]:
    """Error responses for `codes`, in the Error shape; `descriptions` says what
    some of them mean for one app or operation."""
    described = {**_ERROR_DESCRIPTIONS, **(descriptions or {})}
    unknown = set(descriptions or {}) - set(codes)
    if unknown:
        raise ValueError(f"described but not listed: {sorted(unknown)}")
    return {
        code: OpenApiResponse(ErrorSerializer, description=described[code])
        for code in codes
    }


def reject_unknown_keys(data: Any, *, known: Sequence[str], what: str) -> None:
    """Refuse a body object with keys outside `known`, naming every one.

    For operations where a key dropped in silence changes what the answer
    means (a misspelt list checks nothing and reads as "not registered").
    Bodies that are not objects are left to the serializer. Raises
    ValidationFailed.
    """
    if not isinstance(data, Mapping):
        return
    unknown = sorted(str(key) for key in data if key not in known)
    if not unknown:
        return
    names = ", ".join(repr(key) for key in unknown)
    takes = ", ".join(known[:-1]) + f" and {known[-1]}" if len(known) > 1 else known[0]
    message = (
        f"unknown key{'s' if len(unknown) > 1 else ''} {names}; {what} takes {takes}"
    )
    raise ValidationFailed(message, extra={"fields": {k: [message] for k in unknown}})


def path_id(name: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.INT, OpenApiParameter.PATH)


def id_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=ID_MAX, **kwargs)


def absolute_url(request: Request | None, url: str) -> str:
    return request.build_absolute_uri(url) if request is not None else url


class ApiNotFoundApi(APIView):
    required_scopes = "*"  # accounts.permissions.ANY_SCOPE: any token

    # Every other path under /api/v1/: a JSON 404 instead of Django's HTML page.

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        message = f"no API endpoint at {request.path}"
        if not request.path.endswith("/"):
            try:
                match = resolve(request.path_info + "/")
            except Resolver404:
                match = None
            if match is not None and getattr(match.func, "cls", None) is not type(self):
                message += f"; did you mean {request.path}/ (with a slash)?"
        raise exceptions.NotFound(message)


class IdConverter:
    """A database id: digits that fit a 64-bit integer (bigger ones are a 404)."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= ID_MAX:
            raise ValueError("not a database id")
        return number

    def to_url(self, value: int) -> str:
        return str(value)


# Path converter for ids in API URLs: `<dbid:work_id>`.
register_converter(IdConverter, "dbid")
