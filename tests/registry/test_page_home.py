from django.urls import reverse


def test_it_explains_the_registry_to_visitors(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "An open, self-hosted “do not train” registry." in text
    assert f'href="{reverse("signup")}"' in text
    assert f'href="{reverse("login")}"' in text
    assert 'href="/api/docs/"' in text


def test_it_sends_a_logged_in_user_to_the_dashboard(client, artist):
    client.force_login(artist)
    response = client.get(reverse("home"))
    assert "Go to your dashboard" in response.content.decode()
    assert f'href="{reverse("signup")}"' not in response.content.decode()
