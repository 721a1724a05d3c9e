"""Passwords are stored with the project's own hasher (Django's PBKDF2).

Every other test hashes with MD5 (tests/conftest.py: `_fast_passwords`), so
the cast's set-up takes milliseconds; here the project's hashers are put back
and a sign-up, a log-in and a wrong password go through them.
"""

from __future__ import annotations

import importlib

from django.conf import global_settings
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD

PROJECT_HASHERS = getattr(
    importlib.import_module("config.settings"),
    "PASSWORD_HASHERS",
    global_settings.PASSWORD_HASHERS,
)


def test_the_project_hashes_with_pbkdf2():
    assert PROJECT_HASHERS[0] == "django.contrib.auth.hashers.PBKDF2PasswordHasher"


def test_a_password_signed_up_with_is_stored_with_pbkdf2_and_logs_in(
    client, db, settings
):
    settings.PASSWORD_HASHERS = PROJECT_HASHERS
    response = client.post(
        reverse("signup"),
        {
            "username": "dora",
            "email": "dora@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "display_name": "Dora Maar",
            "roles": ["artist"],
        },
    )
    assert response.status_code == 302
    stored = User.objects.get(username="dora").password
    assert stored.startswith("pbkdf2_sha256$")
    assert PASSWORD not in stored
    client.logout()

    response = client.post(reverse("login"), {"username": "dora", "password": "no"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    response = client.post(reverse("login"), {"username": "dora", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
