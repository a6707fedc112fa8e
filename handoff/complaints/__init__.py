"""Complaint cases (投诉工单): opened from the dialogue, worked by agents, confirmed by the customer."""

from handoff.complaints.cases import Complaints
from handoff.complaints.models import Case, CaseError, Change, MoveRefused, Policy, Status, Targets

__all__ = ["Case", "CaseError", "Change", "Complaints", "MoveRefused", "Policy", "Status", "Targets"]
