"""The staff API under generated input (schemathesis, from its own OpenAPI document): never a 5xx.

Every operation is run with no session, then as a user holding every role (login, logout and the
customer erasure aside: they would end the session, or walk and wipe what the other cases work on).
Bodies, path and query parameters are generated from the document; every answer must be below 500
and nothing may log a traceback. The engine has a key prefix and staff accounts of its own.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp.test_utils import TestClient
from hypothesis import given
from hypothesis import strategies as st

from bot.appkeys import ACCOUNTS
from staff.accounts import ROLES
from tests.conftest import EngineFactory
from tests.fuzzing import below_500, fuzzed, no_tracebacks

PASSWORD = "fuzz-password-123456"
SKIPPED = {("POST", "/api/login"), ("POST", "/api/logout"), ("POST", "/api/admin/customers/erase")}


@pytest.fixture(scope="session")
async def fuzz_engine(trained_model: object, start_engine: EngineFactory, key_prefix: str) -> TestClient:
    """An engine on a key prefix of its own, with one user who holds every role."""
    client = await start_engine(instance_id="fuzz", redis_prefix=key_prefix + "fz", cookie_secure=False)
    await client.app[ACCOUNTS].set_user("fuzzadmin", PASSWORD, list(ROLES))
    return client


def _fuzz_api(base: str, signed_in: bool) -> Counter[int]:
    """Run every operation's generated cases; return how many answers had each status."""
    http = requests.Session()
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    if signed_in:
        login = {"username": "fuzzadmin", "password": PASSWORD}
        response = http.post(base + "/api/login", json=login, timeout=30)
        assert response.status_code == 200, response.text
        headers["X-CSRF-Token"] = response.json()["csrf"]
        # Explicitly: schemathesis sends each case's own cookies, not the session's jar.
        cookies = dict(http.cookies)
        assert cookies, response.headers
    document = http.get(base + "/api/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    made: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue

        @fuzzed()
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            response = case.call(base_url=base, session=http, headers=headers, cookies=cookies, timeout=30)
            made[response.status_code] += 1
            below_500(response, f"{case.method} {case.formatted_path} {case.query} {case.body!r:.300}")

        run()
    if signed_in:
        # Still signed in at the end: the cases ran as the user, not as a stranger.
        assert http.get(base + "/api/session", timeout=30).status_code == 200
    return made


_HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120)
# requests refuses to send a header value with leading whitespace.
_COOKIE = _HEADER_TEXT.map(str.lstrip)


def _fuzz_cookies(base: str) -> Counter[int]:
    """Send made-up Cookie headers and query strings to a page, the session API and a staff API."""
    http = requests.Session()
    made: Counter[int] = Counter()

    @fuzzed()
    @given(cookie=_COOKIE, query=st.dictionaries(_HEADER_TEXT, _HEADER_TEXT, max_size=3))
    def run(cookie: str, query: dict[str, str]) -> None:
        for path in ("/api/session", "/api/kb/entries", "/api/reports/live", "/kb"):
            response = http.get(base + path, headers={"Cookie": cookie}, params=query, timeout=30)
            made[response.status_code] += 1
            below_500(response, f"GET {path} Cookie: {cookie!r} {query!r}")

    run()
    return made


@pytest.mark.timeout(900)
async def test_no_staff_api_input_gets_a_server_error(fuzz_engine: TestClient) -> None:
    base = str(fuzz_engine.make_url("")).rstrip("/")
    with no_tracebacks():
        stranger = await asyncio.to_thread(_fuzz_api, base, False)
        user = await asyncio.to_thread(_fuzz_api, base, True)
        cookies = await asyncio.to_thread(_fuzz_cookies, base)
    print(f"staff API fuzz: without a session {dict(stranger)}; as a user with every role {dict(user)}")
    print(f"made-up cookies and queries: {dict(cookies)}")
    assert set(stranger) <= {400, 401, 403, 404, 405, 413}  # nothing is served to a stranger
    # As the user, most operations answered (a wrong id or a bad value is a 4xx, as it should be).
    assert sum(n for status, n in user.items() if status < 300) > user.total() / 4
