"""Every Redis key name and TTL the engine uses, in one package (tests/core/test_keys.py pins them).

The families of keys that share one hash tag live in `core.keys.families`; `Keys` hands them out.

Slots, for Redis Cluster:

* per-conversation keys carry the conversation id in a hash tag (``cs:conv:{rest:42}:...``), so all keys
  of one conversation live in one slot and a Lua script may touch them together (the state machine's);
* the human queue's keys all share the deployment's ``{hq}`` tag (`QueueKeys`), because its scripts
  claim across tickets, agents and queues at once; the scripts build further keys from that base;
* complaint cases share the ``{cs}`` tag (`ComplaintKeys`): opening one is a script over several;
* service events and roll-ups share the ``{rp}`` tag (`ReportKeys`): recording one is a script;
* quality inspection shares the ``{qa}`` tag (`QualityKeys`): a review is one MULTI over several;
* offline messages and their teams' open lists share the ``{left}`` tag: a claim is one script over both;
* the knowledge base shares the ``{kb}`` tag (`KnowledgeKeys`): a publish is one MULTI over the live
  pointer, the version and the version list;
* everything else (profiles, ratings, canned replies, staff, channel stores) is read and
  written one key at a time, or in a non-transactional pipeline (which a cluster splits by node).

A transaction names its slot: ``pipeline(transaction=True, shard_hint=key)`` (`core.redis_cluster`).
On Redis Cluster a script or transaction over two slots fails (CROSSSLOT); the engine's two-instance
tests run on a cluster too (the ``topology`` fixture), so a key family without its tag is found there.

Channels never import this module: they keep their own values (tokens, cursors, button payloads) through
the `core.ports.SharedStore` port, and pass the lifetime of each value with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.keys.families import ComplaintKeys, KnowledgeKeys, QualityKeys, QueueKeys, ReportKeys

# How long a transition log is kept after the conversation's last transition.
TRANSITION_LOG_TTL_SECONDS = 90 * 24 * 3600
TRANSITION_LOG_MAXLEN = 1000
PENDING_MAXLEN = 10_000
TRANSCRIPT_MAXLEN = 5_000
TRANSCRIPT_TTL_SECONDS = 90 * 24 * 3600
# Platforms retry for minutes (WeChat) to hours (Telegram); two days covers every retry we know of.
DEDUP_TTL_SECONDS = 2 * 24 * 3600
DELIVERIES_TTL_SECONDS = 90 * 24 * 3600
MAILBOX_MAXLEN = 500
MAILBOX_TTL_SECONDS = 30 * 24 * 3600
# The live list of conversations forgets one a day after its customer last wrote.
RECENT_WINDOW_SECONDS = 24 * 3600
# Two misses an hour apart are two separate questions, not one the bot keeps failing.
KB_MISSES_TTL_SECONDS = 3600
# A rating prompt unanswered for a day is stale; the comment after a rating is taken within 10 minutes.
CSAT_PENDING_TTL_SECONDS = 24 * 3600
CSAT_COMMENT_TTL_SECONDS = 600
CSAT_STREAM_MAXLEN = 100_000
# A customer told "leave your message" has an hour to write it.
OFFLINE_LEAVING_TTL_SECONDS = 3600
SESSION_TTL_SECONDS = 12 * 3600
# What a publish built (tens of MB on a large KB), shared so other instances load it, not rebuild it.
KB_BUILT_TTL_SECONDS = 7 * 24 * 3600
# A ticket counter outlives every holder that could still hold one of its tickets.
DIALOGUE_LOCK_COUNTER_TTL_SECONDS = 24 * 3600
# Only one instance seeds an empty knowledge base; the claim lapses if it dies doing so.
KB_SEEDING_TTL_SECONDS = 60
# A silence warning is marked once per agent line; a day outlives any silence timeout.
SILENCE_WARNED_TTL_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Keys:
    """Key names under one prefix (one deployment, or one test run)."""

    prefix: str

    def conversation_state(self, conversation_id: str) -> str:
        """Hash with the conversation's owner state and its metadata."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:state"

    def transition_log(self, conversation_id: str) -> str:
        """Stream of the conversation's state transitions (who, when, why)."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:log"

    def pending_messages(self, conversation_id: str) -> str:
        """Stream of customer messages received while a human owns or is about to own the conversation."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:pending"

    def kb_misses(self, conversation_id: str) -> str:
        """Counter of the knowledge base's misses in a row (expires: misses far apart do not add up)."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:kbmiss"

    def silence_warned(self, conversation_id: str, line_id: str) -> str:
        """Marker that the customer was warned of closing after the agent's line ``line_id``."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:silence:{line_id}"

    def transcript(self, conversation_id: str) -> str:
        """Stream of everything said in the conversation: customer, bot and agents, across channels."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:transcript"

    def transcript_signal(self, conversation_id: str) -> str:
        """Pub/sub channel that says the conversation's transcript has a new line (agent consoles)."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:said"

    def outbox(self, conversation_id: str) -> str:
        """Stream of messages for a customer whose channel cannot push (the web chat polls it)."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:outbox"

    def dedup(self, conversation_id: str, message_id: str) -> str:
        """Marker that a platform message id was already taken in (its retries are dropped)."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:seen:{message_id}"

    def inbound_queue(self, conversation_id: str) -> str:
        """Stream of acknowledged customer messages not yet handled, oldest first."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:inq"

    def inbound_lease(self, conversation_id: str) -> str:
        """Which worker is handling the conversation's inbound queue (expires if it dies)."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:inq:lease"

    def inbound_tries(self, conversation_id: str) -> str:
        """Hash of inbound entry id → how many workers took it up (a second one is a replay)."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:inq:tries"

    def dialogue_events(self, conversation_id: str) -> str:
        """List of the conversation's Rasa events (JSON), oldest first: its tracker, appended to."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:events"

    def dialogue_session(self, conversation_id: str) -> str:
        """Position in the events list where the conversation's latest Rasa session starts."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:events:session"

    def legacy_tracker(self, conversation_id: str) -> str:
        """A tracker as Rasa's own RedisTrackerStore wrote it (one JSON document), moved on first read."""
        return f"{self.prefix}:tracker:{conversation_id}"

    def dialogue_lock(self, conversation_id: str) -> str:
        """Hash of Rasa ticket number → expiry (ms): who waits for, and who holds, the dialogue turn."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:lock"

    def dialogue_lock_counter(self, conversation_id: str) -> str:
        """Last ticket number issued for the conversation (never reused while a holder may live)."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:lock:n"

    def dialogue_lock_wake(self, conversation_id: str) -> str:
        """List the releasing holder pushes one token per waiter to, ending their blocking wait."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:lock:wake"

    @property
    def queued_index(self) -> str:
        """Sorted set of conversations that are (or may be) QUEUED, by when; the sweeper's repair list."""
        return f"{self.prefix}:queued"

    @property
    def recent_conversations(self) -> str:
        """Sorted set of conversations by their customer's last message (ms), for the live bot list."""
        return f"{self.prefix}:recent"

    @property
    def inbound_active(self) -> str:
        """Sorted set of conversations with unhandled inbound messages, by first arrival (recovery)."""
        return f"{self.prefix}:inq:active"

    @property
    def inbound_ready(self) -> str:
        """List of conversations announced as having a message waiting; idle processes pull from it."""
        return f"{self.prefix}:inq:ready"

    @property
    def inbound_dead(self) -> str:
        """Stream of messages that could not be handled after every retry, kept for inspection."""
        return f"{self.prefix}:inq:dead"

    def push_queue(self, conversation_id: str) -> str:
        """Stream of pushes (messages, service-state changes) not yet sent to the platform, oldest first."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:pushq"

    def push_lease(self, conversation_id: str) -> str:
        """Which worker is sending the conversation's pushes (expires if it dies)."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:pushq:lease"

    @property
    def push_active(self) -> str:
        """Sorted set of conversations with unsent pushes, by when they were listed (recovery)."""
        return f"{self.prefix}:pushq:active"

    def deliveries(self, conversation_id: str) -> str:
        """Hash of outbound message id → JSON status (pending, delivered, failed) for push channels."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:deliveries"

    def mailbox(self, conversation_id: str) -> str:
        """Stream of what a socket-based channel shows the customer (history, resume after reconnect)."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:mailbox"

    @property
    def mailbox_signal(self) -> str:
        """Pub/sub channel that tells every instance which mailbox has something new."""
        return f"{self.prefix}:mailbox:new"

    def csat_pending(self, conversation_id: str) -> str:
        """The rating prompt the customer was last shown, and what it rates."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:csat"

    def csat_comment(self, conversation_id: str) -> str:
        """The rating a comment may still be added to (the "写评价" window)."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:csat:comment"

    @property
    def csat_stream(self) -> str:
        """Stream of every rating given."""
        return f"{self.prefix}:csat"

    def csat_counts(self, dimension: str, value: str) -> str:
        """Hash of score → count for one agent, channel or tier."""
        return f"{self.prefix}:csat:{dimension}:{value}"

    @property
    def csat_comments(self) -> str:
        """Stream of rating comments."""
        return f"{self.prefix}:csat:comments"

    def identity(self, identity: str) -> str:
        """The profile a channel identity (``telegram:42``) belongs to."""
        return f"{self.prefix}:ident:{identity}"

    def profile(self, profile_id: str) -> str:
        """Hash of a customer profile's attributes."""
        return f"{self.prefix}:prof:{profile_id}"

    def profile_part(self, profile_id: str, part: str) -> str:
        """A profile's ``ids`` (set), ``convs`` (sorted set), ``notes`` or ``audit`` (streams)."""
        return f"{self.prefix}:prof:{profile_id}:{part}"

    @property
    def hours(self) -> str:
        """Hash of each team's business hours (JSON)."""
        return f"{self.prefix}:hours"

    @property
    def routing_policy(self) -> str:
        """The routing policy supervisors set in the staff app (JSON), over the environment's defaults."""
        return f"{self.prefix}:routing:policy"

    def offline_leaving(self, conversation_id: str) -> str:
        """Marker that the customer's next message is an offline message (team and language)."""
        return f"{self.prefix}:left:leaving:{conversation_id}"

    def offline_message(self, message_id: str) -> str:
        """Hash of one offline message (留言)."""
        return f"{self.offline_base}:item:{message_id}"

    def offline_open(self, team: str) -> str:
        """Sorted set of a team's unhandled offline messages, oldest first."""
        return f"{self.offline_base}:open:{team}"

    @property
    def offline_base(self) -> str:
        """The offline messages' ``{left}`` tag: a claim is one script over a message and its team's list."""
        return f"{self.prefix}:{{left}}"

    def legacy_offline(self, family: str) -> str:
        """Where offline ``item`` hashes and ``open`` lists were before the ``{left}`` tag."""
        return f"{self.prefix}:left:{family}"

    @property
    def canned_shared(self) -> str:
        """Hash of the shared canned replies by shortcut."""
        return f"{self.prefix}:canned:shared"

    def canned_agent(self, agent_id: str) -> str:
        """Hash of one agent's own canned replies by shortcut."""
        return f"{self.prefix}:canned:agent:{agent_id}"

    @property
    def users(self) -> str:
        """Hash of staff accounts (scrypt hash and roles, JSON)."""
        return f"{self.prefix}:users"

    @property
    def staff_preferences(self) -> str:
        """Hash of each staff user's preferences (JSON: the staff app's language)."""
        return f"{self.prefix}:users:prefs"

    def session(self, token: str) -> str:
        """A staff session (expires)."""
        return f"{self.prefix}:session:{token}"

    @property
    def audit(self) -> str:
        """Stream of audit entries: who read or changed what (append-only, trimmed by age)."""
        return f"{self.prefix}:audit"

    def login_failures(self, scope: str) -> str:
        """Hash of recent failed logins for one account or address (count, locked-until; expires)."""
        return f"{self.prefix}:login:fail:{scope}"

    @property
    def queue(self) -> QueueKeys:
        """The human queue's keys."""
        return QueueKeys(f"{self.prefix}:{{hq}}")

    @property
    def kb(self) -> KnowledgeKeys:
        """The knowledge base's keys."""
        return KnowledgeKeys(f"{self.prefix}:{{kb}}")

    @property
    def legacy_kb(self) -> str:
        """Where the knowledge base's keys lived before they shared the ``{kb}`` tag (moved at start-up)."""
        return f"{self.prefix}:kb"

    @property
    def complaints(self) -> ComplaintKeys:
        """Complaint cases' keys."""
        return ComplaintKeys(f"{self.prefix}:{{cs}}")

    @property
    def reports(self) -> ReportKeys:
        """Service events' and roll-ups' keys."""
        return ReportKeys(f"{self.prefix}:{{rp}}")

    @property
    def quality(self) -> QualityKeys:
        """Quality inspection's keys."""
        return QualityKeys(f"{self.prefix}:{{qa}}")

    def channel_store(self, channel: str, key: str) -> str:
        """A channel's shared value (access token, sync cursor, button payload)."""
        return f"{self.prefix}:ch:{channel}:{key}"

    @property
    def rasa_prefix(self) -> str:
        """Prefix handed to the Rasa tracker and lock stores (their keys come from this module too)."""
        return self.prefix

    def pattern(self) -> str:
        """Glob that matches every key under this prefix, Rasa's included."""
        return f"{self.prefix}:*"


__all__ = ["ComplaintKeys", "Keys", "KnowledgeKeys", "QualityKeys", "QueueKeys", "ReportKeys"]
