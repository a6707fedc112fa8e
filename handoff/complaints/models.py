"""Complaint cases (投诉工单): statuses, the moves between them, and the deadline policy."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


class CaseError(ValueError):
    """A request the case cannot take (unknown category, a move its status does not allow)."""


class MoveRefused(CaseError):
    """A move the case's status (or its owner) does not allow: a conflict, not a malformed request."""


class Status(str, enum.Enum):
    """Where a case stands; ``confirmed`` and ``closed_unconfirmed`` are final."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CONFIRMED = "confirmed"
    REOPENED = "reopened"
    CLOSED_UNCONFIRMED = "closed_unconfirmed"


# Resolved is the agent's claim; only the customer confirms it (or the silence timer closes it unconfirmed).
MOVES: Mapping[Status, frozenset[Status]] = {
    Status.OPEN: frozenset({Status.IN_PROGRESS, Status.RESOLVED}),
    Status.IN_PROGRESS: frozenset({Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.CONFIRMED, Status.REOPENED, Status.CLOSED_UNCONFIRMED}),
    Status.REOPENED: frozenset({Status.IN_PROGRESS, Status.RESOLVED}),
    Status.CONFIRMED: frozenset(),
    Status.CLOSED_UNCONFIRMED: frozenset(),
}
OPEN_STATUSES = frozenset({Status.OPEN, Status.IN_PROGRESS, Status.RESOLVED, Status.REOPENED})
# What each escalation level does, in order (``Case.level`` counts the ones done).
LEVELS = ("at_risk", "overdue", "reassigned")


@dataclass(frozen=True)
class Targets:
    """How soon a case must be answered and resolved, in minutes from its opening."""

    respond_minutes: int
    resolve_minutes: int


@dataclass(frozen=True)
class Policy:
    """The configurable lists and the severity × category deadline matrix."""

    categories: tuple[str, ...] = ("物流", "质量", "服务态度", "退款", "其他")
    severities: tuple[str, ...] = ("一般", "严重", "紧急")
    # Severity → targets; ``matrix`` overrides per (severity, category).
    by_severity: Mapping[str, Targets] = field(
        default_factory=lambda: {
            "一般": Targets(4 * 60, 48 * 60),
            "严重": Targets(60, 24 * 60),
            "紧急": Targets(15, 4 * 60),
        }
    )
    matrix: Mapping[tuple[str, str], Targets] = field(default_factory=dict)
    default_category: str = "其他"
    default_severity: str = "一般"
    # Deadlines count the owning team's opening hours (a team without a calendar is always open).
    business_hours: bool = True
    # Escalation levels, as shares of the resolution time: notify the owner, the supervisor, reassign.
    at_risk_share: float = 0.8
    reassign_share: float = 1.5
    # Team → its supervisor's username; cases reassigned at the last level go to them, or else to
    # ``escalation_team`` (left to the team itself when neither is set).
    supervisors: Mapping[str, str] = field(default_factory=dict)
    escalation_team: str = ""
    # How long a resolved case waits for the customer before it closes unconfirmed.
    confirm_hours: float = 72.0

    @property
    def shares(self) -> tuple[float, float, float]:
        """Return the escalation levels' shares of the resolution time, in order."""
        return (self.at_risk_share, 1.0, self.reassign_share)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Policy:
        """Build from a settings file's JSON; raise CaseError naming the first problem."""
        known = {f for f in cls.__dataclass_fields__ if f not in ("by_severity", "matrix")}
        unknown = set(data) - known - {"targets"}
        if unknown:
            raise CaseError(f"unknown complaint settings: {', '.join(sorted(unknown))}")
        base = cls()
        fields: dict[str, Any] = {k: data[k] for k in known if k in data}
        for name in ("categories", "severities"):
            if name in fields:
                fields[name] = tuple(str(v) for v in fields[name])
        by_severity, matrix = dict(base.by_severity), {}
        for row in data.get("targets", []):
            try:
                targets = Targets(int(row["respond_minutes"]), int(row["resolve_minutes"]))
                severity, category = str(row["severity"]), row.get("category")
            except (KeyError, TypeError, ValueError):
                raise CaseError(
                    f"a target needs severity, respond_minutes, resolve_minutes: {row!r}"
                ) from None
            if category is None:
                by_severity[severity] = targets
            else:
                matrix[(severity, str(category))] = targets
        policy = cls(**fields, by_severity=by_severity, matrix=matrix)
        missing = [s for s in policy.severities if s not in policy.by_severity]
        if missing or not 0 < policy.at_risk_share < 1 <= policy.reassign_share:
            raise CaseError("every severity needs targets, and 0 < at_risk_share < 1 <= reassign_share")
        return policy

    def targets(self, severity: str, category: str) -> Targets:
        """Return the deadlines for a case; raises CaseError for an unknown severity or category."""
        if severity not in self.severities:
            raise CaseError(f"unknown severity {severity!r}; one of {', '.join(self.severities)}")
        if category not in self.categories:
            raise CaseError(f"unknown category {category!r}; one of {', '.join(self.categories)}")
        return self.matrix.get((severity, category)) or self.by_severity[severity]


@dataclass(frozen=True)
class Change:
    """One line of a case's history: who did what, when."""

    at: float
    actor: str
    action: str
    detail: str = ""


@dataclass(frozen=True)
class Case:
    """A complaint case: who complained, about what, who owns it, by when, and where it stands."""

    id: str
    customer: str
    conversations: tuple[str, ...]
    channel: str
    category: str
    severity: str
    description: str
    team: str
    owner: str
    status: Status
    opened_at: float
    respond_by: float
    resolve_by: float
    language: str = "zh"
    # The agent the complaint is about (a low rating of their conversation), if any.
    agent: str = ""
    # Escalation levels done (0-3) and when each falls due; set when the case is opened.
    level: int = 0
    escalate_at: tuple[float, ...] = ()
    # When the agent marked it resolved, and when the customer's silence closes it unconfirmed.
    resolved_at: float = 0.0
    confirm_by: float = 0.0

    def to_json(self) -> str:
        """Serialise for the store."""
        data = asdict(self)
        data["status"] = self.status.value
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> Case:
        """Read what ``to_json`` wrote."""
        data: dict[str, Any] = json.loads(raw)
        data["status"] = Status(data["status"])
        data["conversations"] = tuple(data["conversations"])
        data["escalate_at"] = tuple(data.get("escalate_at", ()))
        return cls(**data)

    def view(self, history: Sequence[Change] = ()) -> dict[str, Any]:
        """Return the JSON-ready view for the console and the API."""
        data: dict[str, Any] = json.loads(self.to_json())
        data["history"] = [asdict(change) for change in history]
        return data
