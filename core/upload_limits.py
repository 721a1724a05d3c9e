"""Upload limits enforced while a multipart body streams in, not after.

Django reads a whole multipart body (spooling files to disk) before a view can
look at sizes, so a 2 GB body was received, and a manifest copied into media,
before being refused. `UploadLimitHandler`, first in FILE_UPLOAD_HANDLERS,
knows each endpoint's limits (`upload_limit`) and:

- refuses a body whose declared Content-Length is over the endpoint's largest
  possible upload before reading any of it;
- counts the file bytes as they stream and stops once all files together pass
  the endpoint's total (a body with no or a false Content-Length);
- cuts a file over the per-file limit: its remaining bytes are counted and
  dropped, and the view gets an empty file of the size that was sent, so it
  is reported by name like any other bad file while the good ones go on.

Under /api/ a refusal is a RequestDataTooBig (`UploadTooLarge`): handler400
answers 413 in the API's error shape (core.api_errors). A page's request
stops reading instead (StopUpload, after the fields before the first file,
its CSRF token among them), and the view shows `upload_refused(request)` as
a form error with status 413.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest
from django.urls import Resolver404, resolve

from core.api_errors import is_api_request

_REFUSED = "_upload_refused"


class UploadTooLarge(RequestDataTooBig):
    """A multipart body is over its endpoint's limit; `str(exc)` says which."""


@dataclass(frozen=True)
class UploadLimit:
    body_bytes: int  # the whole body: files, form fields and multipart framing
    file_bytes: int  # one file; past it the file is cut and reported
    total_bytes: int  # all files together; past it the request is refused
    limit: str  # the limit in words, for messages


def _form_slack() -> int:
    # Form fields (Django caps them at this) and the framing of each part.
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def upload_limit(url_name: str | None) -> UploadLimit:
    """The limits of the endpoint named `url_name` (others take no files)."""
    per_file = settings.UPLOAD_MAX_FILE_BYTES
    if url_name in ("api-manifests", "manifest_upload"):
        total = settings.MANIFEST_MAX_BYTES
        return UploadLimit(
            total + _form_slack(),
            total,
            total,
            f"a manifest of at most {total:,} bytes (MANIFEST_MAX_BYTES)",
        )
    if url_name in ("api-portfolio", "upload"):
        count = settings.UPLOAD_MAX_FILES
        limit = (
            f"at most {count:,} files (UPLOAD_MAX_FILES) of {per_file:,} bytes "
            "each (UPLOAD_MAX_FILE_BYTES)"
        )
    elif url_name in (
        "api-disputes",
        "api-dispute-respond",
        "dispute_new",
        "dispute_respond",
    ):
        count = settings.DISPUTE_EVIDENCE_MAX_FILES
        limit = (
            f"at most {count:,} evidence files (DISPUTE_EVIDENCE_MAX_FILES) of "
            f"{per_file:,} bytes each (UPLOAD_MAX_FILE_BYTES)"
        )
    else:
        none = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return UploadLimit(
            none + _form_slack(),
            none,
            none,
            f"no files, and at most {none:,} bytes of form fields "
            "(DATA_UPLOAD_MAX_MEMORY_SIZE)",
        )
    total = count * per_file
    return UploadLimit(total + _form_slack(), per_file, total, limit)


def upload_refused(request: HttpRequest) -> str | None:
    """Why the upload was stopped (a page's form error), or None."""
    return getattr(request, _REFUSED, None)


class _CutFile(UploadedFile):
    """A file that was over the per-file limit: its size, none of its bytes."""

    def __init__(self, name: str, size: int, content_type: str) -> None:
        super().__init__(io.BytesIO(b""), name, content_type, size)


class UploadLimitHandler(FileUploadHandler):
    """Counts a multipart body's file bytes against the endpoint's limits."""

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: bytes,
        encoding: str | None = None,
    ) -> None:
        match = getattr(self.request, "resolver_match", None)
        if match is None:
            try:
                match = resolve(self.request.path_info)
            except Resolver404:
                match = None
        self.limit = upload_limit(match.url_name if match else None)
        self.total = 0
        self.cut = False
        self.declared_over: str | None = None
        if content_length > self.limit.body_bytes:
            message = (
                f"the upload is {content_length:,} bytes, over the "
                f"{self.limit.body_bytes:,} this endpoint takes: {self.limit.limit}"
            )
            if is_api_request(self.request):
                raise UploadTooLarge(message)
            # A page reads its fields up to the first file (the CSRF token is
            # among them), so the view can show the form with this error.
            self.declared_over = message

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        if self.declared_over:
            self._refuse(self.declared_over)
        self.size = 0
        self.cut = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.size += len(raw_data)
        self.total += len(raw_data)
        if self.total > self.limit.total_bytes:
            self._refuse(
                f"the files are over {self.limit.total_bytes:,} bytes together: "
                f"this endpoint takes {self.limit.limit}"
            )
        if self.size > self.limit.file_bytes:
            # Dropped here, so the handlers after this one store no more of it.
            self.cut = True
            return None
        return raw_data

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if not self.cut:
            return None  # the next handler makes the file
        return _CutFile(self.file_name or "", self.size, self.content_type or "")

    def _refuse(self, message: str) -> None:
        if is_api_request(self.request):
            raise UploadTooLarge(message)
        setattr(self.request, _REFUSED, message)
        raise StopUpload(connection_reset=True)
