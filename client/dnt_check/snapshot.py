"""Sync and open a registry's offline snapshot.

Layout of a snapshot folder:

    keys.json        the registry's public keys (trusted at the first sync,
                     or given with --keys; a later sync never replaces them)
    snapshot.json    the signed snapshot document (its segments, exceptions
                     and matching settings)
    segments/NAME/   one folder per segment, each file checked against the
                     SHA-256 the signed document gives

A sync downloads only the segments the folder lacks, so after the first one
it costs the changes since the revision held; segments no longer named are
removed once the new document is in place. The signature and every file are
checked again when a snapshot is opened.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workers.engine import segments as engine
from workers.engine.receipts import (
    KeysInvalid,
    ReceiptError,
    keys_from_document,
    verify_receipt,
)

SNAPSHOT_TYPE = "dnt-registry-snapshot"
KEYS_PATH = "/.well-known/dnt-registry-keys.json"
TIMEOUT = 60


class SnapshotError(Exception):
    """The snapshot cannot be had or trusted; the message says why."""


@dataclass
class Snapshot:
    """An opened, verified snapshot."""

    folder: Path
    document: dict[str, Any]
    payload: dict[str, Any]
    key_id: str
    view: engine.SegmentView | None = field(default=None, repr=False)

    @property
    def registry(self) -> str:
        return self.payload["registry"]["id"]

    @property
    def revision(self) -> int:
        return int(self.payload["registry"]["revision"])

    def segment_view(self) -> engine.SegmentView:
        if self.view is None:
            self.view = engine.SegmentView(
                [
                    engine.Segment(self.folder / "segments" / meta["name"])
                    for meta in self.payload["segments"]
                ],
                self.revision,
            )
        return self.view


@dataclass
class SyncResult:
    snapshot: Snapshot
    downloaded: list[str]
    reused: list[str]
    removed: list[str]
    bytes: int


def _get(url: str, token: str | None) -> urllib.request.Request:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Token {token}")
    request.add_header("Accept", "application/json")
    return request


def _open(url: str, token: str | None) -> Any:
    try:
        return urllib.request.urlopen(_get(url, token), timeout=TIMEOUT)  # noqa: S310
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:2000].decode("utf-8", "replace")
        try:
            body = json.loads(detail)
            detail = body.get("message") or body.get("detail") or detail
        except (ValueError, AttributeError):
            pass
        raise SnapshotError(f"{url}: HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise SnapshotError(f"{url}: {exc}") from None


def _json(url: str, token: str | None) -> Any:
    with _open(url, token) as response:
        try:
            return json.loads(response.read())
        except ValueError:
            raise SnapshotError(f"{url}: the answer is not JSON") from None


def _write_json(path: Path, value: Any) -> None:
    part = path.with_name(f".{path.name}.part")
    part.write_text(json.dumps(value, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(part, path)


def _keys(folder: Path) -> dict[str, Any]:
    try:
        return keys_from_document(json.loads((folder / "keys.json").read_text()))
    except FileNotFoundError:
        raise SnapshotError(f"{folder}: no keys.json; run dnt-check sync") from None
    except (ValueError, KeysInvalid) as exc:
        raise SnapshotError(f"{folder / 'keys.json'}: {exc}") from None


def verify_document(document: Mapping[str, Any], keys: Mapping[str, Any]) -> dict:
    """The payload of a snapshot document whose signature `keys` verify."""
    try:
        verified = verify_receipt(document, keys, expect_type=SNAPSHOT_TYPE)
    except ReceiptError as exc:
        raise SnapshotError(f"the snapshot's signature does not hold: {exc}") from None
    payload = verified.payload
    for meta in payload.get("segments") or []:
        if meta.get("registry") != payload["registry"]["id"]:
            raise SnapshotError(
                f"segment {meta.get('name')} is of registry {meta.get('registry')}, "
                f"not {payload['registry']['id']}"
            )
    if not payload.get("segments"):
        raise SnapshotError("the snapshot names no segments")
    return payload


def _download_segment(
    base: str, token: str | None, meta: Mapping[str, Any], target: Path
) -> int:
    """Download one segment into `target` (via a .part folder); its bytes."""
    part = target.with_name(f".{target.name}.part")
    shutil.rmtree(part, ignore_errors=True)
    total = 0
    for rel in engine.segment_files(meta):
        path = part / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        url = (
            f"{base}/api/v1/snapshot/segments/{urllib.parse.quote(meta['name'])}/"
            + urllib.parse.quote(rel)
        )
        with _open(url, token) as response, open(path, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
        total += path.stat().st_size
    wrong = engine.check_files(part, meta)
    if not wrong and json.loads((part / "segment.json").read_text()) != dict(meta):
        wrong = "segment.json is not the one the signed snapshot names"
    if wrong:
        shutil.rmtree(part, ignore_errors=True)
        raise SnapshotError(f"segment {meta['name']}: {wrong}; nothing was changed")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(part, target)
    return total


def _intact(directory: Path, meta: Mapping[str, Any]) -> bool:
    try:
        held = json.loads((directory / "segment.json").read_text())
    except (OSError, ValueError):
        return False
    return held == dict(meta) and not engine.check_files(directory, meta)


def sync(
    url: str,
    folder: Path,
    *,
    token: str | None = None,
    keys_file: Path | None = None,
    revision: int | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> SyncResult:
    """Bring `folder` to the registry's snapshot at `revision` (default: now).

    The first sync trusts the keys the registry publishes (or `keys_file`);
    later ones check the registry is the same and the signature verifies with
    the keys held. Nothing in the folder changes unless every new segment
    arrived whole.
    """
    base = url.rstrip("/")
    folder = Path(folder)
    (folder / "segments").mkdir(parents=True, exist_ok=True)
    keys_path = folder / "keys.json"
    if keys_file is not None:
        keys_doc = json.loads(Path(keys_file).read_text())
        try:
            keys_from_document(keys_doc)
        except KeysInvalid as exc:
            raise SnapshotError(f"{keys_file}: {exc}") from None
        _write_json(keys_path, keys_doc)
    elif not keys_path.exists():
        keys_doc = _json(base + KEYS_PATH, None)
        try:
            keys_from_document(keys_doc)
        except KeysInvalid as exc:
            raise SnapshotError(f"{base + KEYS_PATH}: {exc}") from None
        _write_json(keys_path, keys_doc)
        say(f"Trusting the keys {base + KEYS_PATH} publishes (kept in {keys_path})")
    keys = _keys(folder)

    query = f"?revision={int(revision)}" if revision is not None else ""
    document = _json(f"{base}/api/v1/snapshot/{query}", token)
    payload = verify_document(document, keys)
    held_path = folder / "snapshot.json"
    if held_path.exists():
        held = json.loads(held_path.read_text())["payload"]
        if held["registry"]["id"] != payload["registry"]["id"]:
            raise SnapshotError(
                f"{folder} holds registry {held['registry']['id']}; {base} is "
                f"registry {payload['registry']['id']}: use another folder"
            )
    downloaded, reused, size = [], [], 0
    for meta in payload["segments"]:
        target = folder / "segments" / meta["name"]
        if _intact(target, meta):
            reused.append(meta["name"])
            continue
        say(f"Downloading segment {meta['name']} ({meta['bytes']:,} bytes)")
        size += _download_segment(base, token, meta, target)
        downloaded.append(meta["name"])
    _write_json(held_path, document)
    names = {meta["name"] for meta in payload["segments"]}
    removed = []
    for directory in (folder / "segments").iterdir():
        if directory.name not in names:
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory.name)
    return SyncResult(
        snapshot=load(folder, check_files=False),
        downloaded=downloaded,
        reused=reused,
        removed=removed,
        bytes=size,
    )


def load(folder: Path, *, check_files: bool = True) -> Snapshot:
    """Open the snapshot in `folder`, verifying its signature and files."""
    folder = Path(folder)
    try:
        document = json.loads((folder / "snapshot.json").read_text())
    except FileNotFoundError:
        raise SnapshotError(f"{folder}: no snapshot; run dnt-check sync") from None
    except ValueError:
        raise SnapshotError(f"{folder / 'snapshot.json'} is not JSON") from None
    payload = verify_document(document, _keys(folder))
    if check_files:
        for meta in payload["segments"]:
            directory = folder / "segments" / meta["name"]
            if not _intact(directory, meta):
                raise SnapshotError(
                    f"segment {meta['name']} in {directory} is missing or changed; "
                    "run dnt-check sync"
                )
    return Snapshot(
        folder=folder, document=document, payload=payload, key_id=document["key_id"]
    )
