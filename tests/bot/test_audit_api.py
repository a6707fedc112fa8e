"""The audit log through a real engine: staff reads of personal data are written, admins search them."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient

from staff.accounts import Accounts
from staff.auth import ACCOUNTS
from tests.bot.test_agent_api import PASSWORD, login
from tests.bot.test_closing import desk, with_ann  # noqa: F401  (fixture: a staffed instance of its own)


async def test_reading_a_transcript_or_profile_and_exporting_are_audited_for_admins(
    desk: TestClient,  # noqa: F811
) -> None:
    sender = "au-" + uuid.uuid4().hex[:6]
    conversation = f"rest:{sender}"
    ann = await with_ann(desk, sender)
    assert (await desk.get(f"/api/agent/conversations/{conversation}", headers=ann)).status == 200
    assert (await desk.get(f"/api/agent/conversations/{conversation}/profile", headers=ann)).status == 200
    assert (await desk.get("/api/audit")).status == 403, "agents do not read the audit log"

    accounts: Accounts = desk.app[ACCOUNTS]
    await accounts.set_user("ada", PASSWORD, ["admin"])
    await login(desk, "ada")
    assert (await desk.get("/api/reports/conversations?format=csv")).status == 200
    body = await (await desk.get("/api/audit", params={"actor": "ann"})).json()
    seen = {(e["action"], e["target"]) for e in body["entries"]}
    assert ("transcript_viewed", conversation) in seen
    assert ("profile_viewed", conversation) in seen
    viewed = next(e for e in body["entries"] if e["action"] == "profile_viewed")
    assert viewed["detail"]["phone_shown"] is False, "an agent sees the phone masked"
    assert viewed["address"] == "127.0.0.1"

    exported = await (await desk.get("/api/audit", params={"action": "conversations_exported"})).json()
    (export,) = exported["entries"]
    detail = export["detail"]
    assert (export["actor"], detail["format"], detail["ids_shown"]) == ("ada", "csv", True)
    only_this = await (await desk.get("/api/audit", params={"target": sender, "limit": "1"})).json()
    assert len(only_this["entries"]) == 1
    assert only_this["entries"][0]["target"] == conversation
    searched = await (await desk.get("/api/audit", params={"action": "audit_searched"})).json()
    assert len(searched["entries"]) >= 3, "reading the audit log is audited too"
    for bad in ({"from": "yesterday"}, {"limit": "lots"}):
        assert (await desk.get("/api/audit", params=bad)).status == 400
