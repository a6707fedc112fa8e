"""Staff sign-in over real HTTP on a real Redis: throttling, session rotation and revocation, bad cookies."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from staff import login as login_api
from staff.accounts import COOKIE, Accounts
from staff.api import Operation, add_operations, session_of
from staff.auth import ACCOUNTS
from staff.errors import api_errors
from staff.headers import security_headers
from staff.throttle import ACCOUNT_ALLOWANCE

PASSWORD = "correct horse battery"


async def _mine(request: web.Request) -> web.StreamResponse:
    """Who the agent API thinks is calling."""
    session = session_of(request)
    return web.json_response({"username": session.username, "roles": list(session.roles)})


@pytest_asyncio.fixture
async def staff(redis_client: aioredis.Redis, key_prefix: str) -> AsyncIterator[TestClient]:
    """The staff login API and one agent route, on accounts of this test's own."""
    app = web.Application(middlewares=[api_errors])
    app.on_response_prepare.append(security_headers)
    accounts = Accounts(redis_client, key_prefix + "st" + uuid.uuid4().hex[:6])
    await accounts.set_user("ann", PASSWORD, ["agent"])
    app[ACCOUNTS] = accounts
    app[login_api.COOKIE_SECURE] = False
    add_operations(app, login_api.operations())
    add_operations(app, [Operation("GET", "/api/agent/mine", _mine, "me", "agent")])
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()


async def _login(client: TestClient, password: str = PASSWORD, user: str = "ann") -> int:
    response = await client.post("/api/login", json={"username": user, "password": password})
    return response.status


async def test_wrong_passwords_make_the_account_wait_longer_each_time(staff: TestClient) -> None:
    for _ in range(ACCOUNT_ALLOWANCE):
        assert await _login(staff, "wrong password") == 401
    assert await _login(staff, "wrong password") == 401, "the first one over the allowance is checked"
    locked = await staff.post("/api/login", json={"username": "ann", "password": PASSWORD})
    assert locked.status == 429, "even the right password waits while the account is locked"
    assert 1 <= int(locked.headers["Retry-After"]) <= 2
    throttle = staff.app[ACCOUNTS].throttle
    await staff.app[ACCOUNTS].redis.hdel(throttle.keys.login_failures("user:ann"), "until")  # time passes
    assert await _login(staff) == 200, "the right password after the wait"
    assert await throttle.wait_seconds("ann", "elsewhere") == 0, "a good password clears the account"
    assert await _login(staff, user="nobody") == 401, "unknown names are counted, not told apart"


async def test_login_ends_the_session_the_browser_held_before(staff: TestClient) -> None:
    assert await _login(staff) == 200
    first = staff.session.cookie_jar.filter_cookies(staff.make_url("/"))[COOKIE].value
    assert await _login(staff) == 200
    second = staff.session.cookie_jar.filter_cookies(staff.make_url("/"))[COOKIE].value
    assert first != second
    assert await staff.app[ACCOUNTS].session(first) is None, "the earlier token is dead"
    assert await staff.app[ACCOUNTS].session(second) is not None


async def test_replacing_or_removing_a_user_ends_their_sessions(staff: TestClient) -> None:
    assert await _login(staff) == 200
    assert (await staff.get("/api/agent/mine")).status == 200
    accounts: Accounts = staff.app[ACCOUNTS]
    await accounts.set_user("ann", PASSWORD, ["editor"])  # no longer an agent
    assert (await staff.get("/api/agent/mine")).status == 401
    assert await _login(staff) == 200
    assert (await staff.get("/api/agent/mine")).status == 403, "her current roles count, not the old ones"
    assert await accounts.remove_user("ann")
    assert (await staff.get("/api/session")).status == 401
    assert await _login(staff) == 401


async def test_a_malformed_cookie_header_is_a_401_not_a_500_and_keeps_a_good_session(
    staff: TestClient,
) -> None:
    bad = {"Cookie": "a(b=1; {=2"}
    for path in ("/api/agent/mine", "/api/session"):
        response = await staff.get(path, headers=bad)
        assert response.status == 401, path
    assert await _login(staff) == 200
    token = staff.session.cookie_jar.filter_cookies(staff.make_url("/"))[COOKIE].value
    staff.session.cookie_jar.clear()
    mixed = {"Cookie": f"a(b=1; {COOKIE}={token}"}
    response = await staff.get("/api/agent/mine", headers=mixed)
    assert response.status == 200, "another site's broken cookie does not sign the agent out"


async def test_staff_responses_forbid_framing_and_sniffing(staff: TestClient) -> None:
    response = await staff.get("/api/session")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


async def test_a_user_s_language_follows_them_to_every_session(staff: TestClient) -> None:
    assert (await staff.put("/api/session/language", json={"language": "en"})).status == 401
    login = await staff.post("/api/login", json={"username": "ann", "password": PASSWORD})
    csrf = {"X-CSRF-Token": (await login.json())["csrf"]}
    assert (await (await staff.get("/api/session")).json())["language"] is None  # never chosen
    assert (await staff.put("/api/session/language", json={"language": "en"})).status == 403  # no CSRF token
    for bad in ({"language": "fr"}, {"lang": "en"}, ["en"]):
        assert (await staff.put("/api/session/language", json=bad, headers=csrf)).status == 400
    assert (await staff.put("/api/session/language", json={"language": "en"}, headers=csrf)).status == 200
    staff.session.cookie_jar.clear()  # another browser
    assert await _login(staff) == 200
    assert (await (await staff.get("/api/session")).json())["language"] == "en"
