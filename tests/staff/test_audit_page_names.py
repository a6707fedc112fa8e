"""Every action the code writes to the audit log has a name on the audit page, in both languages."""

from __future__ import annotations

import re

from bot.settings import PROJECT_ROOT

PACKAGES = ["bot", "channels", "core", "handoff", "knowledge_base", "reports", "staff"]
# audit="kb_published" (handlers) and audit.record(actor, "user_saved", ...) (services and the CLI).
WRITTEN = re.compile(r"""audit="([a-z_]+)"|audit\.record\(\s*[^,()]+,\s*"([a-z_]+)\"""")


def test_the_audit_page_names_every_action_written() -> None:
    written = set()
    for package in PACKAGES:
        for source in (PROJECT_ROOT / package).rglob("*.py"):
            for match in WRITTEN.finditer(source.read_text(encoding="utf-8")):
                written.add(match.group(1) or match.group(2))
    page = (PROJECT_ROOT / "staff" / "static" / "audit.js").read_text(encoding="utf-8")
    named = set()
    for line in page.splitlines():
        named.update(re.findall(r"([a-z_]+): \[\"[^\"]+\", \"[^\"]+\"\]", line))
    assert len(written) > 20, "the pattern stopped finding the audit calls"
    assert written <= named, f"actions without a name on the audit page: {sorted(written - named)}"
