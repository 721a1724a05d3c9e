from django.urls import reverse

from tests.conftest import PASSWORD


def test_it_shows_the_login_form(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "<h1>Log in</h1>" in text
    assert 'name="username"' in text and 'name="password"' in text


def test_an_artist_logs_in_and_lands_on_the_dashboard(client, artist):
    response = client.post(
        reverse("login"), {"username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


def test_it_returns_to_the_page_asked_for(client, artist):
    response = client.post(
        reverse("login"),
        {"username": "alice", "password": PASSWORD, "next": reverse("claims")},
    )
    assert response["Location"] == reverse("claims")


def test_it_refuses_a_wrong_password(client, artist):
    response = client.post(reverse("login"), {"username": "alice", "password": "no"})
    assert response.status_code == 200
    assert (
        "Please enter a correct username and password. Note that both fields may "
        "be case-sensitive." in response.content.decode()
    )
    assert "_auth_user_id" not in client.session


def test_logging_out_takes_a_post_and_ends_the_session(client, artist):
    client.force_login(artist)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert "_auth_user_id" not in client.session
