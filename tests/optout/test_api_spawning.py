"""POST /api/v2/query/urls/ (and without the slash): Spawning's URL check."""

from __future__ import annotations

import pytest

from accounts.services import api_token_create, api_token_revoke

from .helpers import EXACT_URL

FREE = "https://free.example/1.jpg"

URL = "/api/v2/query/urls/"


@pytest.fixture
def key(curator) -> str:
    _, key = api_token_create(user=curator, name="datadiligence")
    return key


def post(client, body: str, key: str | None, path: str = URL):
    headers = {"HTTP_AUTHORIZATION": f"API {key}"} if key is not None else {}
    return client.post(path, data=body.encode(), content_type="text/plain", **headers)


def test_it_answers_one_entry_per_line_in_order_empty_lines_included(
    client, key, registry
):
    lines = [
        "https://free.example/1.jpg",
        EXACT_URL,
        "",
        "https://alice.example/gallery/2021/boats.jpg",
        "https://bob-art.example/works/bridge.jpg",
        "",
    ]

    # The last line is empty: its newline ends it, and one more ends the body.
    response = post(client, "\n".join(lines) + "\n", key)

    assert response.status_code == 200
    assert response.json() == {
        "urls": [
            {"url": "https://free.example/1.jpg", "optOut": False, "optIn": False},
            {"url": EXACT_URL, "optOut": True, "optIn": False},
            {"url": "", "optOut": False, "optIn": False},
            {
                "url": "https://alice.example/gallery/2021/boats.jpg",
                "optOut": True,
                "optIn": False,
            },
            {
                "url": "https://bob-art.example/works/bridge.jpg",
                "optOut": True,
                "optIn": False,
            },
            {"url": "", "optOut": False, "optIn": False},
        ]
    }


def test_it_answers_the_path_without_a_slash_without_redirecting(client, key, registry):
    response = post(client, EXACT_URL, key, path="/api/v2/query/urls")

    assert response.status_code == 200
    assert response.json()["urls"] == [
        {"url": EXACT_URL, "optOut": True, "optIn": False},
    ]


@pytest.mark.parametrize(
    ("body", "lines"),
    [
        (f"{EXACT_URL}\n", [EXACT_URL]),
        (f"{EXACT_URL}\r\n", [EXACT_URL]),
        (f"{EXACT_URL}\n\nhttps://free.example/1.jpg\n", [EXACT_URL, "", FREE]),
        (f"{EXACT_URL}\n\n", [EXACT_URL, ""]),
        (f"\n{EXACT_URL}", ["", EXACT_URL]),
        ("\n", [""]),
    ],
)
def test_a_final_newline_ends_the_last_line_and_adds_none(
    client, key, registry, body, lines
):
    response = post(client, body, key)

    assert response.status_code == 200
    assert [u["url"] for u in response.json()["urls"]] == lines


def test_a_10000_url_file_sent_by_curl_gets_10000_entries(
    client, key, registry, tmp_path
):
    # As `curl --data-binary @urls.txt` sends it: the file's bytes as they are,
    # a newline after every line, and curl's default form Content-Type.
    urls = [f"https://free.example/{i}.jpg" for i in range(9_999)] + [
        "http://www.alice.example/art/harbour.png"
    ]
    path = tmp_path / "urls.txt"
    path.write_text("".join(f"{url}\n" for url in urls))

    response = client.post(
        URL,
        data=path.read_bytes(),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"API {key}",
    )

    assert response.status_code == 200, response.content[:300]
    answer = response.json()["urls"]
    assert len(answer) == 10_000
    assert [u["url"] for u in answer] == urls
    assert [i for i, u in enumerate(answer) if u["optOut"]] == [9_999]


def test_windows_line_ends_are_not_part_of_the_url(client, key, registry):
    response = post(client, f"https://free.example/1.jpg\r\n{EXACT_URL}", key)

    assert [u["url"] for u in response.json()["urls"]] == [
        "https://free.example/1.jpg",
        EXACT_URL,
    ]
    assert [u["optOut"] for u in response.json()["urls"]] == [False, True]


def test_a_style_claim_or_an_image_does_not_opt_a_url_out(client, key, registry):
    response = post(client, "https://free.example/alice-moreau.jpg", key)

    assert response.json()["urls"][0]["optOut"] is False


def test_an_empty_body_gets_an_empty_list(client, key, db):
    response = post(client, "", key)

    assert response.status_code == 200
    assert response.json() == {"urls": []}


def test_10000_lines_are_accepted_and_10001_refused(client, key, db):
    assert (
        post(client, "\n".join(["https://a.example/"] * 10_000), key).status_code == 200
    )

    response = post(client, "https://a.example/\n" * 10_001, key)

    assert response.status_code == 400
    assert response.json() == {"detail": "at most 10,000 URLs per request, got 10,001"}


def test_a_body_over_the_size_limit_is_refused_for_its_bytes(client, key, db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    long_url = "https://example.org/" + "a" * 600

    response = post(client, f"{long_url}\n{long_url}", key)

    assert response.status_code == 400
    assert response.json() == {
        "detail": "the body is larger than 1,000 bytes; send at most 10,000 URLs "
        "a request"
    }


def test_a_body_that_is_not_utf8_is_refused(client, key, db):
    response = client.post(
        URL,
        data=b"\xff\xfe",
        content_type="text/plain",
        HTTP_AUTHORIZATION=f"API {key}",
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "the body must be UTF-8 text"}


def test_a_missing_token_gets_401_in_spawnings_shape(client, db):
    response = post(client, EXACT_URL, None)

    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided."
    }
    assert response["WWW-Authenticate"] == 'API realm="api"'


def test_a_wrong_token_gets_401_in_spawnings_shape(client, db):
    response = post(client, EXACT_URL, "not-a-key")

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked token."}


def test_an_empty_key_gets_401(client, db):
    # What datadiligence sends when SPAWNING_OPTS_KEY is not set: "API ".
    response = client.post(
        URL,
        data=EXACT_URL.encode(),
        content_type="text/plain",
        HTTP_AUTHORIZATION="API ",
    )

    assert response.status_code == 401
    assert "detail" in response.json()


def test_a_revoked_token_gets_401(client, curator, db):
    token, key = api_token_create(user=curator, name="old")
    api_token_revoke(user=curator, token_id=token.pk)

    response = post(client, EXACT_URL, key)

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked token."}


def test_any_signed_up_account_may_ask(client, artist, registry):
    _, artist_key = api_token_create(user=artist, name="mine")

    response = post(client, EXACT_URL, artist_key)

    assert response.json()["urls"][0]["optOut"] is True


def test_get_is_not_allowed(client, key, db):
    response = client.get(URL, HTTP_AUTHORIZATION=f"API {key}")

    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "GET" not allowed.'}
