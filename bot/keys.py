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

    def transcript(self, conversation_id: str) -> str:
        """Stream of everything said in the conversation: customer, bot and agents, across channels."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:transcript"

    def outbox(self, conversation_id: str) -> str:
        """Stream of messages for a customer whose channel cannot push (the web chat polls it)."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:outbox"

    @property
    def rasa_prefix(self) -> str:
        """Prefix handed to Rasa's tracker and lock stores (they append their own ``tracker:``/``lock:``)."""
        return self.prefix

    def pattern(self) -> str:
        """Glob that matches every key under this prefix, Rasa's included."""
        return f"{self.prefix}:*"
