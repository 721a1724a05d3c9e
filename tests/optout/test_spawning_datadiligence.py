"""datadiligence's SpawningAPI rule, pointed at our live server, gets our opt-outs.

The real package, unchanged: only its endpoint (the instance attribute
SPAWNING_AI_API_URL) and its key (SPAWNING_OPTS_KEY, read when a SpawningAPI is
created) are ours.
"""

from __future__ import annotations

import pytest
from datadiligence import PreprocessEvaluator
from datadiligence.exceptions import SpawningAIAPIError
from datadiligence.rules import SpawningAPI

from accounts.services import api_token_create

from .helpers import EXACT_URL, enforce

pytestmark = pytest.mark.django_db(transaction=True)

OPTED_OUT = [
    EXACT_URL,  # exact claim
    "https://alice.example/gallery/2021/boats.jpg",  # prefix claim
    "https://bob-art.example/works/bridge.jpg",  # domain claim
]
ALLOWED = ["https://free.example/5.jpg", "https://free.example/6.jpg"]
URLS = [OPTED_OUT[0], ALLOWED[0], OPTED_OUT[1], OPTED_OUT[2], ALLOWED[1]]


@pytest.fixture
def rule(live_server, monkeypatch, curator, holder) -> SpawningAPI:
    enforce(holder)
    _, key = api_token_create(user=curator, name="datadiligence")
    monkeypatch.setenv(SpawningAPI.API_KEY_ENV_VAR, key)
    rule = SpawningAPI(max_retries=0)
    rule.SPAWNING_AI_API_URL = live_server.url + "/api/v2/query/urls"
    return rule


def test_filter_allowed_keeps_exactly_the_urls_not_opted_out(rule):
    assert rule.filter_allowed(urls=URLS) == ALLOWED


def test_is_allowed_answers_each_url_in_order(rule):
    assert rule.is_allowed(urls=URLS) == [False, True, False, False, True]


def test_the_trailing_slash_url_datadiligence_ships_with_works_too(rule, live_server):
    rule.SPAWNING_AI_API_URL = live_server.url + "/api/v2/query/urls/"

    assert rule.filter_allowed(urls=URLS) == ALLOWED


def test_a_wrong_key_is_an_error_not_a_pass(rule):
    rule.api_key = "not-a-key"

    with pytest.raises(SpawningAIAPIError, match="non-200 status code: 401"):
        rule.filter_allowed(urls=URLS)


def test_without_a_key_datadiligence_lets_every_url_through(rule):
    # Why the README warns: an evaluator skips a rule that is not "ready", and
    # SpawningAPI is ready only with a key, so nothing is filtered at all.
    rule.api_key = ""
    evaluator = PreprocessEvaluator()
    evaluator.rules = [rule]

    assert evaluator.filter_allowed(urls=URLS) == URLS
