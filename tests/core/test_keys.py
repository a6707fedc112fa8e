"""Golden key names: stored data stays readable only while every key keeps today's exact string.

Each expected string was copied from the code that built it before the keys moved into `core.keys`;
a change here is a data migration, not a refactor.
"""

from __future__ import annotations

from core.keys import Keys

K = Keys("cs")
C = "rest:42"


def test_conversation_keys_share_the_conversations_hash_tag() -> None:
    assert K.conversation_state(C) == "cs:conv:{rest:42}:state"
    assert K.transition_log(C) == "cs:conv:{rest:42}:log"
    assert K.pending_messages(C) == "cs:conv:{rest:42}:pending"
    assert K.kb_misses(C) == "cs:conv:{rest:42}:kbmiss"
    assert K.silence_warned(C, "1-0") == "cs:conv:{rest:42}:silence:1-0"
    assert K.transcript(C) == "cs:conv:{rest:42}:transcript"
    assert K.transcript_signal(C) == "cs:conv:{rest:42}:said"
    assert K.outbox(C) == "cs:conv:{rest:42}:outbox"
    assert K.dedup(C, "m1") == "cs:conv:{rest:42}:seen:m1"
    assert K.inbound_queue(C) == "cs:conv:{rest:42}:inq"
    assert K.inbound_lease(C) == "cs:conv:{rest:42}:inq:lease"
    assert K.inbound_tries(C) == "cs:conv:{rest:42}:inq:tries"
    assert K.deliveries(C) == "cs:conv:{rest:42}:deliveries"
    assert K.push_queue(C) == "cs:conv:{rest:42}:pushq"
    assert K.push_lease(C) == "cs:conv:{rest:42}:pushq:lease"
    assert K.mailbox(C) == "cs:conv:{rest:42}:mailbox"
    assert K.csat_pending(C) == "cs:conv:{rest:42}:csat"
    assert K.csat_comment(C) == "cs:conv:{rest:42}:csat:comment"
    assert K.dialogue_events(C) == "cs:conv:{rest:42}:events"
    assert K.dialogue_session(C) == "cs:conv:{rest:42}:events:session"
    assert K.legacy_tracker(C) == "cs:tracker:rest:42"
    assert K.dialogue_lock(C) == "cs:conv:{rest:42}:lock"
    assert K.dialogue_lock_counter(C) == "cs:conv:{rest:42}:lock:n"
    assert K.dialogue_lock_wake(C) == "cs:conv:{rest:42}:lock:wake"


def test_deployment_wide_keys() -> None:
    assert K.queued_index == "cs:queued"
    assert K.recent_conversations == "cs:recent"
    assert K.inbound_active == "cs:inq:active"
    assert K.inbound_dead == "cs:inq:dead"
    assert K.push_active == "cs:pushq:active"
    assert K.mailbox_signal == "cs:mailbox:new"
    assert K.channel_store("telegram", "cb:x") == "cs:ch:telegram:cb:x"
    assert K.rasa_prefix == "cs"
    assert K.pattern() == "cs:*"


def test_queue_keys_share_one_hash_tag() -> None:
    q = K.queue
    assert q.base == "cs:{hq}"
    assert q.ticket(C) == "cs:{hq}:ticket:rest:42"
    assert q.team_queue("support") == "cs:{hq}:queue:support"
    assert q.agent("ann") == "cs:{hq}:agent:ann"
    assert q.alive("ann") == "cs:{hq}:alive:ann"
    assert q.convs("ann") == "cs:{hq}:convs:ann"
    assert q.dedicated("ann") == "cs:{hq}:dedicated:ann"
    assert q.sticky("ann") == "cs:{hq}:sticky:ann"
    assert q.avail_team("support") == "cs:{hq}:avail:team:support"
    assert q.online_team("support") == "cs:{hq}:online:team:support"
    assert q.events("ann") == "cs:{hq}:events:ann"
    assert q.avail_all == "cs:{hq}:avail:all"
    assert q.offers == "cs:{hq}:offers"
    assert q.handled == "cs:{hq}:handled"
    assert q.teams == "cs:{hq}:teams"
    assert q.agents == "cs:{hq}:agents"


def test_handoff_feature_keys() -> None:
    assert K.csat_stream == "cs:csat"
    assert K.csat_counts("agent", "ann") == "cs:csat:agent:ann"
    assert K.csat_comments == "cs:csat:comments"
    assert K.identity("telegram:1") == "cs:ident:telegram:1"
    assert K.profile("p1") == "cs:prof:p1"
    assert K.profile_part("p1", "ids") == "cs:prof:p1:ids"
    assert K.profile_part("p1", "convs") == "cs:prof:p1:convs"
    assert K.profile_part("p1", "notes") == "cs:prof:p1:notes"
    assert K.profile_part("p1", "audit") == "cs:prof:p1:audit"
    assert K.hours == "cs:hours"
    assert K.offline_leaving(C) == "cs:left:leaving:rest:42"
    assert K.offline_message("lm1") == "cs:{left}:item:lm1"
    assert K.offline_open("support") == "cs:{left}:open:support"
    assert K.canned_shared == "cs:canned:shared"
    assert K.canned_agent("ann") == "cs:canned:agent:ann"


def test_staff_and_knowledge_base_keys() -> None:
    assert K.users == "cs:users"
    assert K.session("tok") == "cs:session:tok"
    kb = K.kb
    assert kb.draft == "cs:{kb}:draft"
    assert kb.versions == "cs:{kb}:versions"
    assert kb.version_seq == "cs:{kb}:version_seq"
    assert kb.seeding == "cs:{kb}:version_seq:seeding"
    assert kb.live == "cs:{kb}:live"
    assert kb.golden == "cs:{kb}:golden"
    assert kb.synonyms == "cs:{kb}:synonyms"
    assert kb.thresholds == "cs:{kb}:thresholds"
    assert kb.inbox == "cs:{kb}:inbox"
    assert kb.inbox_meta == "cs:{kb}:inbox:meta"
    assert kb.published == "cs:{kb}:published"
    assert kb.version(3) == "cs:{kb}:version:3"
    assert kb.built(3) == "cs:{kb}:built:3"
