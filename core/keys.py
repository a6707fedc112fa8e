"""Every Redis key name and TTL the engine uses, in one place.

Per-conversation keys carry the conversation id in a hash tag (``{...}``) so that, on Redis Cluster,
all keys of one conversation live in one slot and a Lua script may touch them together.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    def inbound_dead(self) -> str:
        """Stream of messages that could not be handled after every retry, kept for inspection."""
        return f"{self.prefix}:inq:dead"

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

    def channel_store(self, channel: str, key: str) -> str:
        """A channel's shared value (access token, sync cursor, button payload)."""
        return f"{self.prefix}:ch:{channel}:{key}"

    @property
    def rasa_prefix(self) -> str:
        """Prefix handed to Rasa's tracker and lock stores (they append their own ``tracker:``/``lock:``)."""
        return self.prefix

    def pattern(self) -> str:
        """Glob that matches every key under this prefix, Rasa's included."""
        return f"{self.prefix}:*"
