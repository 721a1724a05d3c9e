"""Sending a stored file to someone a view has already allowed to see it.

The views under /files/ check permission, then call `stored_file_response`.
By default Django streams the file (FileResponse). Behind nginx, set
MEDIA_ACCEL_REDIRECT to the internal location that maps to MEDIA_ROOT and the
response is empty with an X-Accel-Redirect header; behind Apache or lighttpd,
MEDIA_SENDFILE sends X-Sendfile with the file's path. Files in object storage
(MEDIA_STORAGE_URL) are streamed from the store, or, with
MEDIA_STORAGE_REDIRECT, the browser is sent to a signed URL valid for minutes.

Every answer is private to its user (Cache-Control: private) and never
sniffed; only image types on a short list are shown inline, anything else is
an attachment of application/octet-stream, so an uploaded HTML or SVG file is
never rendered on this site's origin.
"""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header

from core.storage import has_local_path

# Shown inline. SVG is left out on purpose: it can carry script.
INLINE_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/heic",
        "image/heif",
        "image/bmp",
        "image/tiff",
    }
)

# Pillow's format names (Image.format) -> content types, for originals that
# are stored under a random name without an extension.
FORMAT_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "AVIF": "image/avif",
    "HEIF": "image/heif",
    "HEIC": "image/heic",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}


def content_type_for(*, name: str, image_format: str = "") -> str:
    """The type a file is sent as: from its image format, else its name."""
    if image_format.upper() in FORMAT_TYPES:
        return FORMAT_TYPES[image_format.upper()]
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def stored_file_response(
    file: FieldFile, *, filename: str, content_type: str
) -> HttpResponse:
    """The response that sends `file` (already allowed); Http404 if it is gone."""
    if not file or not file.name:
        raise Http404("file not found")
    name = file.name
    inline = content_type in INLINE_TYPES
    if not inline:
        content_type = "application/octet-stream"
    disposition = content_disposition_header(not inline, filename)
    local = has_local_path(name)
    if not local and settings.MEDIA_STORAGE_REDIRECT:
        # Object storage users can reach: a signed URL valid for minutes, which
        # makes the store send the same type and disposition as below.
        parameters = {"ResponseContentType": content_type}
        if disposition:
            parameters["ResponseContentDisposition"] = disposition
        response: HttpResponse = HttpResponseRedirect(
            default_storage.url(name, parameters=parameters)
        )
    elif local and settings.MEDIA_ACCEL_REDIRECT:
        if not default_storage.exists(name):
            raise Http404("file not found")
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.MEDIA_ACCEL_REDIRECT + quote(name)
    elif local and settings.MEDIA_SENDFILE:
        if not default_storage.exists(name):
            raise Http404("file not found")
        response = HttpResponse(content_type=content_type)
        response["X-Sendfile"] = default_storage.path(name)
    else:
        # Streamed by this process: from the disk, or from object storage
        # (spooled to a temporary file past 8 MB, never held in memory; its
        # open asks the store once and says FileNotFoundError when gone).
        try:
            handle = default_storage.open(name, "rb")
        except FileNotFoundError:
            raise Http404("file not found") from None
        response = FileResponse(handle, content_type=content_type)
    if disposition:
        response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    # A user's own browser may keep it a few minutes; no shared cache may.
    response["Cache-Control"] = "private, max-age=300"
    # Opened directly, the file is shown with no script and no other loads.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
