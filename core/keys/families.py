"""The key families whose keys share one hash tag (one Cluster slot each); `core.keys.Keys` hands them out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueueKeys:
    """The human queue's keys, all under the deployment's ``{hq}`` hash tag (one Cluster slot)."""

    base: str

    def ticket(self, conversation_id: str) -> str:
        """Hash of a conversation's ticket: team, tier, customer, status, agent, attempts."""
        return f"{self.base}:ticket:{conversation_id}"

    def team_queue(self, team: str) -> str:
        """Sorted set of a team's waiting conversations (score: enqueue time less the tier boost)."""
        return f"{self.base}:queue:{team}"

    def agent(self, agent_id: str) -> str:
        """Hash of an agent's routing record: name, teams, capacity, status, load."""
        return f"{self.base}:agent:{agent_id}"

    def alive(self, agent_id: str) -> str:
        """Heartbeat key of an agent's console (expires when it stops)."""
        return f"{self.base}:alive:{agent_id}"

    def convs(self, agent_id: str) -> str:
        """Set of the conversations offered to or held by an agent."""
        return f"{self.base}:convs:{agent_id}"

    def dedicated(self, agent_id: str) -> str:
        """Waiting tickets whose customer has this dedicated agent ("-": none)."""
        return f"{self.base}:dedicated:{agent_id}"

    def sticky(self, agent_id: str) -> str:
        """Waiting tickets whose customer this agent served last ("-": none)."""
        return f"{self.base}:sticky:{agent_id}"

    def avail_team(self, team: str) -> str:
        """Sorted set of a team's agents who can take work now (score: load / capacity)."""
        return f"{self.base}:avail:team:{team}"

    def online_team(self, team: str) -> str:
        """Sorted set of a team's online agents (their capacity), for the expected wait."""
        return f"{self.base}:online:team:{team}"

    def events(self, agent_id: str) -> str:
        """Pub/sub channel of an agent's routing events (offered, assigned, revoked)."""
        return f"{self.base}:events:{agent_id}"

    @property
    def avail_all(self) -> str:
        """Sorted set of every agent who can take work now."""
        return f"{self.base}:avail:all"

    @property
    def offers(self) -> str:
        """Sorted set of open offers by deadline (ms)."""
        return f"{self.base}:offers"

    @property
    def handled(self) -> str:
        """List of recent handling times (seconds), for the expected wait."""
        return f"{self.base}:handled"

    @property
    def teams(self) -> str:
        """Set of every team that has had a conversation queued."""
        return f"{self.base}:teams"

    @property
    def agents(self) -> str:
        """Set of every agent with a routing record."""
        return f"{self.base}:agents"


@dataclass(frozen=True)
class KnowledgeKeys:
    """The knowledge base's keys: the draft, immutable versions, golden questions, the inbox."""

    base: str

    @property
    def draft(self) -> str:
        """Hash of draft entries by ``locale/id``."""
        return f"{self.base}:draft"

    @property
    def versions(self) -> str:
        """Sorted set of published version numbers."""
        return f"{self.base}:versions"

    @property
    def version_seq(self) -> str:
        """Counter of version numbers."""
        return f"{self.base}:version_seq"

    @property
    def seeding(self) -> str:
        """Claim of the one instance that seeds an empty knowledge base."""
        return f"{self.version_seq}:seeding"

    @property
    def live(self) -> str:
        """The live version's number."""
        return f"{self.base}:live"

    @property
    def golden(self) -> str:
        """Golden questions (JSON)."""
        return f"{self.base}:golden"

    @property
    def synonyms(self) -> str:
        """Synonym groups (JSON)."""
        return f"{self.base}:synonyms"

    @property
    def thresholds(self) -> str:
        """Hand-set or calibrated thresholds (JSON)."""
        return f"{self.base}:thresholds"

    @property
    def inbox(self) -> str:
        """Sorted set of unanswered questions by count."""
        return f"{self.base}:inbox"

    @property
    def inbox_meta(self) -> str:
        """Hash of each unanswered question's details."""
        return f"{self.base}:inbox:meta"

    @property
    def published(self) -> str:
        """Pub/sub channel that announces a publish to every instance."""
        return f"{self.base}:published"

    def version(self, number: int | str) -> str:
        """An immutable published version (JSON snapshot)."""
        return f"{self.base}:version:{number}"

    def built(self, number: int | str) -> str:
        """What the publish of a version built (expires; rebuilt when gone)."""
        return f"{self.base}:built:{number}"

    def usage(self, day: str) -> str:
        """Hash of one day's (UTC) counts of how the bot used each entry: ``locale/id/band`` → n (expires)."""
        return f"{self.base}:usage:{day}"


@dataclass(frozen=True)
class ComplaintKeys:
    """Complaint cases; one hash tag, so opening a case is one script over all of them."""

    base: str

    @property
    def seq(self) -> str:
        """Counter behind case numbers."""
        return f"{self.base}:seq"

    def case(self, case_id: str) -> str:
        """A case (JSON)."""
        return f"{self.base}:case:{case_id}"

    def history(self, case_id: str) -> str:
        """A case's changes, oldest first (JSON per line)."""
        return f"{self.base}:history:{case_id}"

    def open_for(self, customer: str, topic: str) -> str:
        """The open case of one customer about one topic (a conversation): one at a time."""
        return f"{self.base}:open:{customer}:{topic}"

    @property
    def due(self) -> str:
        """Sorted set of unfinished cases by resolution deadline."""
        return f"{self.base}:due"

    def due_in(self, team: str) -> str:
        """Sorted set of one team's unfinished cases by resolution deadline (agents' lists)."""
        return f"{self.base}:due:team:{team}"

    @property
    def escalate(self) -> str:
        """Sorted set of unfinished cases by when their next escalation level falls due."""
        return f"{self.base}:escalate"

    @property
    def awaiting(self) -> str:
        """Sorted set of resolved cases by when the customer's silence closes them unconfirmed."""
        return f"{self.base}:awaiting"

    def asked(self, conversation_id: str) -> str:
        """The case whose fix the customer of this conversation was last asked to confirm."""
        return f"{self.base}:asked:{conversation_id}"

    def events(self, team: str) -> str:
        """Pub/sub channel of one team's case events (escalated, reassigned, confirmed, reopened)."""
        return f"{self.base}:events:{team}"

    @property
    def all_events(self) -> str:
        """Pub/sub channel of every team's case events (supervisors' consoles)."""
        return f"{self.base}:events"


@dataclass(frozen=True)
class QualityKeys:
    """Quality inspection (质检); one ``{qa}`` hash tag, so a review is one MULTI over its keys."""

    base: str

    @property
    def checklist(self) -> str:
        """The checklist in use (JSON)."""
        return f"{self.base}:checklist"

    def quota(self, agent: str, day: str) -> str:
        """How many of an agent's conversations were sampled at random on one day (UTC, YYYYMMDD)."""
        return f"{self.base}:quota:{agent}:{day}"

    def sampled(self, conversation_id: str) -> str:
        """Why and for which agent a conversation was sampled (JSON); set once."""
        return f"{self.base}:sampled:{conversation_id}"

    def flag(self, conversation_id: str) -> str:
        """A complaint about a conversation still in progress: sample it when it closes."""
        return f"{self.base}:flag:{conversation_id}"

    @property
    def samples(self) -> str:
        """Sorted set of sampled conversations waiting for review, by when they were sampled."""
        return f"{self.base}:samples"

    def review(self, conversation_id: str) -> str:
        """A conversation's review (JSON)."""
        return f"{self.base}:review:{conversation_id}"

    def by_agent(self, agent: str) -> str:
        """Sorted set of an agent's reviewed conversations, by review time."""
        return f"{self.base}:agent:{agent}"


@dataclass(frozen=True)
class ReportKeys:
    """Service events and their roll-ups; one ``{rp}`` hash tag, so recording one is one script."""

    base: str

    def seen(self, event_key: str) -> str:
        """An event's idempotency key, kept as long as the events are."""
        return f"{self.base}:seen:{event_key}"

    @property
    def stream(self) -> str:
        """Stream of every event (JSON), trimmed by age."""
        return f"{self.base}:events"

    def hour(self, name: str) -> str:
        """Roll-up of one UTC hour (``YYYYMMDDHH``)."""
        return f"{self.base}:h:{name}"

    def day(self, name: str) -> str:
        """Roll-up of one report day (``YYYYMMDD`` in the reports' time zone)."""
        return f"{self.base}:d:{name}"

    def cube(self, name: str) -> str:
        """One-dimension cube of a report day (``YYYYMMDD``) or ISO week (``YYYY-Www``)."""
        return f"{self.base}:c:{name}"

    def hourly(self, name: str) -> str:
        """Counts per kind and local hour of one report day (the heat map)."""
        return f"{self.base}:hh:{name}"

    @property
    def rollup_glob(self) -> str:
        """Glob of every roll-up, cube and hourly count (the rebuild deletes them first)."""
        return f"{self.base}:[hdc]*:*"

    def presence(self, agent: str) -> str:
        """An agent's current status and since when (``status|epoch``), for their presence time."""
        return f"{self.base}:presence:{agent}"

    def recent(self, customer: str) -> str:
        """Present for the containment window after a customer's conversation opened (recontact within it).

        ``customer`` is their profile id (the same person on every channel), else the conversation id.
        """
        return f"{self.base}:recent:{customer}"

    def closed_recently(self, customer: str) -> str:
        """Present for the containment window after an agent closed the customer's conversation."""
        return f"{self.base}:closed:{customer}"

    def active(self, conversation_id: str) -> str:
        """Present while a conversation is active; its absence at a message starts a new one."""
        return f"{self.base}:active:{conversation_id}"
