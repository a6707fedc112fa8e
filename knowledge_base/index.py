"""A published knowledge base made searchable: one matcher per locale over the live entries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from knowledge_base.entries import FaqEntry
from knowledge_base.matcher import Decision, Matcher, Phrasing, Thresholds, Weights
from knowledge_base.normalise import Normaliser
from knowledge_base.state import MatcherState


def locale_for(language: str | None) -> str:
    """Map a detected message language (zh, en or None) to an entry locale."""
    return "en" if language == "en" else "zh-CN"


@dataclass(frozen=True)
class Found:
    """A decision together with the entries it names, ready for a reply."""

    decision: Decision
    entries: tuple[FaqEntry, ...]
    locale: str = ""  # the entries' locale (the one matched against)

    @property
    def entry(self) -> FaqEntry | None:
        """Return the entry to answer with, when the band is ANSWER."""
        return self.entries[0] if self.entries and self.decision.band.value == "answer" else None


class KnowledgeIndex:
    """Immutable: a publish builds a new index and swaps it in whole."""

    def __init__(
        self,
        entries: Iterable[FaqEntry],
        *,
        synonyms: Mapping[str, Sequence[str]] | None = None,
        thresholds: Thresholds | None = None,
        weights: Weights | None = None,
        now: dt.datetime | None = None,
        built: Mapping[str, MatcherState] | None = None,
    ) -> None:
        """Index the entries live at ``now`` (enabled, in their window), loading ``built`` where it fits."""
        moment = now or dt.datetime.now(dt.timezone.utc)
        self.thresholds = thresholds or Thresholds()
        self.normaliser = Normaliser(synonyms)
        self.entries: dict[tuple[str, str], FaqEntry] = {}
        by_locale: dict[str, list[Phrasing]] = {}
        overrides: dict[str, dict[str, Thresholds]] = {}
        for entry in entries:
            if not entry.is_live(moment):
                continue
            self.entries[(entry.locale, entry.id)] = entry
            phrasings = by_locale.setdefault(entry.locale, [])
            phrasings.extend(Phrasing(entry.id, q) for q in entry.questions)
            if entry.answer_threshold is not None or entry.suggest_threshold is not None:
                answer = (
                    entry.answer_threshold if entry.answer_threshold is not None else self.thresholds.answer
                )
                suggest = (
                    entry.suggest_threshold
                    if entry.suggest_threshold is not None
                    else self.thresholds.suggest
                )
                overrides.setdefault(entry.locale, {})[entry.id] = Thresholds(answer, min(suggest, answer))
        self.matchers = {
            locale: Matcher(
                phrasings,
                normaliser=self.normaliser,
                thresholds=self.thresholds,
                weights=weights,
                entry_thresholds=overrides.get(locale),
                features="zh" if locale == "zh-CN" else "en",
                built=built,
            )
            for locale, phrasings in by_locale.items()
        }

    def find(self, question: str, locale: str) -> Found | None:
        """Match ``question`` against entries of ``locale`` (or the only locale there is)."""
        matcher = self.matchers.get(locale)
        if matcher is None:
            if len(self.matchers) != 1:
                return None
            locale, matcher = next(iter(self.matchers.items()))
        decision = matcher.match(question)
        wanted = decision.candidates if decision.band.value != "escalate" else ()
        entries = tuple(self.entries[(locale, c.entry_id)] for c in wanted)
        return Found(decision, entries, locale)

    def states(self) -> dict[str, MatcherState]:
        """Return what each locale's matcher built, by state key, for other instances and the next build."""
        return {state.key: state for state in (m.state() for m in self.matchers.values())}

    def with_thresholds(self, thresholds: Thresholds) -> KnowledgeIndex:
        """Return a copy that decides with other global thresholds, without refitting."""
        clone = object.__new__(KnowledgeIndex)
        clone.__dict__.update(self.__dict__)
        clone.thresholds = thresholds
        clone.matchers = {k: m.with_thresholds(thresholds) for k, m in self.matchers.items()}
        return clone
