"""Temporary upload files left by a web process killed mid-upload are swept.

The files are made the way Django makes them while a large upload streams in
(TemporaryUploadedFile in FILE_UPLOAD_TEMP_DIR); the kill itself is drilled
in test_web_killed_mid_upload.py.
"""

from __future__ import annotations

import os
import time

from django.core.files.uploadedfile import TemporaryUploadedFile

from core.uploads import upload_temp_sweep
from optout.tasks import upload_temp_sweep as task


def test_old_temporary_uploads_go_and_fresh_ones_stay(tmp_path, settings):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    left = TemporaryUploadedFile("big.parquet", "application/octet-stream", 0, None)
    left.write(b"x" * 1024)
    left.flush()
    in_progress = TemporaryUploadedFile(
        "b.parquet", "application/octet-stream", 0, None
    )
    in_progress.write(b"y")
    in_progress.flush()
    other = tmp_path / "notes.txt"
    other.write_text("not an upload")
    assert os.path.dirname(left.temporary_file_path()) == str(tmp_path)
    old = time.time() - 7 * 3600
    os.utime(left.temporary_file_path(), (old, old))
    os.utime(other, (old, old))

    assert task() == 1  # the beat task, with the settings' folder and age

    assert not os.path.exists(left.temporary_file_path())
    assert os.path.exists(in_progress.temporary_file_path())
    assert other.exists()
    assert upload_temp_sweep(folder=str(tmp_path), max_age_seconds=3600) == 0
    in_progress.close()
    try:  # a killed process would not close it; this one must, quietly
        left.close()
    except FileNotFoundError:
        pass


def test_a_missing_folder_is_nothing_to_do(tmp_path):
    assert upload_temp_sweep(folder=str(tmp_path / "gone"), max_age_seconds=1) == 0
