"""Production settings: `check --deploy` is clean, and a missing key stops start-up."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_environ(tmp_path: Path) -> dict[str, str]:
    """This process's environment with DEBUG off and the least production needs."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SECRET_KEY", "SECURE_", "ALLOWED_HOSTS", "DEBUG"))
    }
    if not env.get("DATABASE_URL", "").startswith("postgres"):
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="registry.example.org",
        CSRF_TRUSTED_ORIGINS="https://registry.example.org",
    )
    return env


@pytest.fixture
def production_env(tmp_path: Path) -> dict[str, str]:
    return production_environ(tmp_path)


def test_check_deploy_finds_no_issues_in_production_settings(production_env):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env)
    assert result.returncode == 0, result.stdout + result.stderr
    # The one silenced: HSTS preload is off until the operator opts in.
    assert "System check identified no issues (1 silenced)." in result.stdout


def test_check_deploy_is_clean_with_hsts_preload_on(production_env):
    production_env["SECURE_HSTS_PRELOAD"] = "true"
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_warns_about_a_weak_secret_key(production_env):
    production_env["SECRET_KEY"] = "too-short"
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env)
    assert result.returncode == 1
    assert "security.W009" in result.stderr


def test_without_debug_a_missing_secret_key_stops_start_up(production_env):
    del production_env["SECRET_KEY"]
    result = manage("check", env=production_env)
    assert result.returncode == 1
    assert (
        "django.core.exceptions.ImproperlyConfigured: "
        "Set the SECRET_KEY environment variable"
    ) in result.stderr


def test_a_secret_key_file_is_read_instead(production_env, tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text(production_env.pop("SECRET_KEY"))
    production_env["SECRET_KEY_FILE"] = str(key_file)
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"MEDIA_ACCEL_REDIRECT": "protected-media"},
            "MEDIA_ACCEL_REDIRECT must start and end with /",
        ),
        (
            {"MEDIA_ACCEL_REDIRECT": "/protected-media/", "MEDIA_SENDFILE": "true"},
            "set MEDIA_ACCEL_REDIRECT or MEDIA_SENDFILE, not both",
        ),
    ],
)
def test_a_bad_media_sending_setting_stops_start_up(production_env, env, message):
    production_env.update(env)
    result = manage("check", env=production_env)
    assert result.returncode == 1
    assert message in result.stderr


def test_a_worker_process_is_replaced_past_its_memory_limit(production_env):
    code = "from config.celery import app; print(app.conf.worker_max_memory_per_child)"
    assert (
        manage("shell", "-c", code, env=production_env).stdout.split()[-1] == "2097152"
    )
    production_env["CELERY_WORKER_MAX_MEMORY_PER_CHILD"] = "0"
    assert manage("shell", "-c", code, env=production_env).stdout.split()[-1] == "None"


def test_a_negative_worker_memory_limit_stops_start_up(production_env):
    production_env["CELERY_WORKER_MAX_MEMORY_PER_CHILD"] = "-1"
    result = manage("check", env=production_env)
    assert result.returncode == 1
    assert "CELERY_WORKER_MAX_MEMORY_PER_CHILD must be a number of KiB" in (
        result.stderr
    )


@pytest.mark.parametrize("value", ["1.5", "-0.1"])
def test_a_min_coverage_outside_0_to_1_stops_start_up(production_env, value):
    production_env["MATCH_MIN_COVERAGE"] = value
    result = manage("check", env=production_env)
    assert result.returncode == 1
    assert f"MATCH_MIN_COVERAGE must be from 0 to 1, not {float(value)}" in (
        result.stderr
    )


def test_the_min_coverage_is_read_from_the_environment(production_env):
    production_env["MATCH_MIN_COVERAGE"] = "0.75"
    code = "from optout.selectors import default_levels; print(default_levels())"
    result = manage("shell", "-c", code, env=production_env)
    assert "min_coverage=0.75" in result.stdout, result.stderr


@pytest.mark.parametrize("value", ["1.5", "-0.5"])
def test_a_min_alignment_outside_0_to_1_stops_start_up(production_env, value):
    production_env["MATCH_MIN_ALIGNMENT"] = value
    result = manage("check", env=production_env)
    assert result.returncode == 1
    assert "MATCH_MIN_ALIGNMENT must be from 0 to 1, or -1 for off, not " in (
        result.stderr
    )


@pytest.mark.parametrize(("value", "shown"), [("0.95", "0.95"), ("-1", "None")])
def test_the_min_alignment_is_read_from_the_environment(production_env, value, shown):
    production_env["MATCH_MIN_ALIGNMENT"] = value
    code = "from optout.selectors import default_levels; print(default_levels())"
    result = manage("shell", "-c", code, env=production_env)
    assert f"min_alignment={shown}" in result.stdout, result.stderr


def test_an_unknown_ivf_codes_setting_stops_start_up(production_env):
    production_env["MATCH_DESCRIPTOR_IVF_CODES"] = "opq"
    result = manage("check", env=production_env)
    assert result.returncode == 1
    assert "MATCH_DESCRIPTOR_IVF_CODES='opq': 'fastscan' or 'pq'" in result.stderr
