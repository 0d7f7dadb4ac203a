"""No lost writes under concurrency: distinct lidnummers, exactly one winner per version."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.integration.test_members_api import new_member

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Api = Callable[..., requests.Response]


def test_50_concurrent_creates_get_50_distinct_lidnummers(api: Api, id_token: Callable[[str], str]) -> None:
    # GIVEN 50 different new members (token fetched first, so all requests race the same way)
    id_token("staff")
    bodies = [new_member("Oost") for _ in range(50)]
    # WHEN they are created at the same time
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(lambda b: api("POST", "/members", user="staff", json=b), bodies))
    # THEN all succeed with 50 different lidnummers
    assert [r.status_code for r in responses] == [201] * 50, [
        r.text for r in responses if r.status_code != 201
    ]
    numbers = [r.json()["lidnummer"] for r in responses]
    assert len(set(numbers)) == 50


def test_concurrent_creates_with_one_email_have_one_winner(api: Api, id_token: Callable[[str], str]) -> None:
    # GIVEN 10 creates of different people with the same email address
    id_token("staff")
    email = f"race-{uuid.uuid4().hex[:10]}@example.nl"
    bodies = [new_member("Oost", email=email, voornaam=f"Racer{i}") for i in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda b: api("POST", "/members", user="staff", json=b), bodies))
    # THEN exactly one is created and the others are 409
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 9}
    found = api("GET", "/members", user="staff", params={"email": email}).json()["members"]
    assert len(found) == 1


def test_20_concurrent_updates_with_one_version_have_one_winner(
    api: Api, id_token: Callable[[str], str]
) -> None:
    # GIVEN one member at version 1
    id_token("staff")
    member = api("POST", "/members", user="staff", json=new_member("Oost")).json()
    path = f"/members/{member['member_id']}"

    def update(i: int) -> requests.Response:
        return api("PUT", path, user="staff", json={"woonplaats": f"Plaats {i}", "version": 1})

    # WHEN 20 clients update it at once, all having read version 1
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(update, range(20)))
    # THEN exactly one succeeds and 19 get 409 with the current version
    codes = Counter(r.status_code for r in responses)
    assert codes == {200: 1, 409: 19}, codes
    winner: dict[str, Any] = next(r.json() for r in responses if r.status_code == 200)
    assert all(
        r.json()["error"]["details"]["current_version"] == 2 for r in responses if r.status_code == 409
    )
    # AND the stored member is the winner's write
    stored = api("GET", path, user="staff").json()
    assert stored["version"] == 2 and stored["woonplaats"] == winner["woonplaats"]
