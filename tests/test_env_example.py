""".env.example documents every environment variable config/settings.py reads."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
EXAMPLE = (ROOT / ".env.example").read_text()


def settings_variables() -> set[str]:
    """Names passed to env(...), env.str(...), env.db_url(...) etc. in settings.py."""
    tree = ast.parse((ROOT / "config" / "settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            func = func.value
        first = node.args[0]
        if (
            isinstance(func, ast.Name)
            and func.id == "env"
            and isinstance(first, ast.Constant)
            and isinstance(first.value, str)
        ):
            names.add(first.value)
    return names


def documented_variables() -> dict[str, str]:
    """NAME -> the comment block above its `# NAME=value` line in .env.example."""
    found: dict[str, str] = {}
    comment: list[str] = []
    for line in EXAMPLE.splitlines():
        match = re.fullmatch(r"#? ?([A-Z][A-Z0-9_]*)=(.*)", line)
        if match:
            found[match.group(1)] = " ".join(comment)
        elif line.startswith("#"):
            comment.append(line.lstrip("# "))
        else:
            comment = []
    return found


def test_the_settings_parser_finds_the_variables():
    names = settings_variables()
    assert {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"} <= names
    assert {"CELERY_BROKER_URL", "EMAIL_URL", "SECURE_HSTS_SECONDS"} <= names


def test_every_variable_settings_reads_is_documented():
    missing = settings_variables() - set(documented_variables())
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_every_documented_variable_is_explained():
    for name, explanation in documented_variables().items():
        assert len(explanation) > 10, name


def test_every_documented_variable_is_read_somewhere():
    compose = (ROOT / "docker-compose.yml").read_text()
    used = settings_variables() | set(re.findall(r"\$\{(\w+)", compose))
    stale = set(documented_variables()) - used
    assert not stale, f"documented but never read: {sorted(stale)}"


def test_the_example_sets_nothing_by_itself():
    # Copied to .env as it is, it must change no default (every line commented).
    assert [
        line for line in EXAMPLE.splitlines() if line and not line.startswith("#")
    ] == []


def test_the_groups_are_there_in_order():
    groups = re.findall(r"^# --- (.+?) -+$", EXAMPLE, re.M)
    assert groups == [
        "core",
        "database",
        "celery",
        "uploads and media",
        "matching (curators' manifests)",
        "trust (domain proof, style review)",
        "receipts (signing keys)",
        "security (only with DEBUG off)",
        "docker compose only (docker-compose.yml, not settings.py)",
    ]


def settings_default(name: str) -> object:
    """The literal `default=` settings.py passes to env.<type>(name, ...)."""
    tree = ast.parse((ROOT / "config" / "settings.py").read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == name
        ):
            for keyword in node.keywords:
                if keyword.arg == "default":
                    return ast.literal_eval(keyword.value)
    raise AssertionError(f"{name}: no default in settings.py")


def documented_values() -> dict[str, str]:
    return dict(re.findall(r"^# ([A-Z][A-Z0-9_]*)=(.*)$", EXAMPLE, re.M))


def test_media_is_private_by_default():
    assert settings_default("SERVE_MEDIA") is False
    assert settings_default("MEDIA_ACCEL_REDIRECT") == ""
    assert settings_default("MEDIA_SENDFILE") is False
    values = documented_values()
    assert values["SERVE_MEDIA"] == "false"
    assert values["MEDIA_ACCEL_REDIRECT"] == ""
    assert values["MEDIA_SENDFILE"] == "false"
    assert "UNSAFE" in documented_variables()["SERVE_MEDIA"]


def test_withdrawn_works_files_are_kept_thirty_days_by_default():
    assert settings_default("WITHDRAWN_FILES_GRACE_DAYS") == 30
    assert documented_values()["WITHDRAWN_FILES_GRACE_DAYS"] == "30"
