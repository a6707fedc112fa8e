"""Complaint cases (投诉工单): opened from the dialogue, worked by agents, confirmed by the customer."""

from handoff.complaints.cases import Complaints
from handoff.complaints.escalation import escalate_due, escalate_now
from handoff.complaints.models import Case, CaseError, Change, MoveRefused, Policy, Status, Targets
from handoff.complaints.signoff import Signoff

__all__ = [
    "Case",
    "CaseError",
    "Change",
    "Complaints",
    "MoveRefused",
    "Policy",
    "Signoff",
    "Status",
    "Targets",
    "escalate_due",
    "escalate_now",
]
