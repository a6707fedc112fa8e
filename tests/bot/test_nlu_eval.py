"""Intent classification on utterances the model never trained on: our held-out slice and public corpora."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml
from aiohttp.test_utils import TestClient

from bot.appkeys import DIALOGUE
from bot.dialogue import scope
from scripts.public_intents import key

DATA = Path(__file__).parent.parent / "data"
HOLDOUT = DATA / "nlu_holdout.yml"
PUBLIC = DATA / "intents_public.tsv"
TRAINING = Path(__file__).parent.parent.parent / "training_data"
MIN_MACRO_F1 = 0.9
# What the dialogue does with these decisions is the same: the knowledge base decides the message.
KB_DECIDES = {"ask_question", "out_of_scope", "nlu_fallback"}


def _examples(path: Path) -> list[tuple[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    pairs = []
    for block in data["nlu"]:
        for line in block["examples"].splitlines():
            text = line.strip().removeprefix("- ").strip()
            if text:
                pairs.append((text, block["intent"]))
    return pairs


def _public(language: str) -> list[tuple[str, str]]:
    with PUBLIC.open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(r["text"], r["intent"]) for r in rows if r["language"] == language]


def _trained() -> set[str]:
    return {
        key(text) for path in TRAINING.rglob("*.yml") if "nlu" in path.name for text, _ in _examples(path)
    }


def macro_f1(pairs: Sequence[tuple[str, str, str]]) -> tuple[float, str]:
    """Return the macro F1 over the expected intents of ``(text, expected, predicted)`` and a report."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    misses = []
    for text, expected, predicted in pairs:
        if predicted == expected:
            tp[expected] += 1
        else:
            fp[predicted] += 1
            fn[expected] += 1
            misses.append(f"{text!r}: {expected} → {predicted}")
    lines, f1s = [], []
    for intent in sorted({expected for _, expected, _ in pairs}):
        precision = tp[intent] / (tp[intent] + fp[intent]) if tp[intent] + fp[intent] else 0.0
        recall = tp[intent] / (tp[intent] + fn[intent]) if tp[intent] + fn[intent] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        lines.append(f"{intent:15} P={precision:.2f} R={recall:.2f} F1={f1:.2f} n={tp[intent] + fn[intent]}")
    macro = sum(f1s) / len(f1s)
    return macro, "\n".join([*lines, f"macro F1 = {macro:.3f} over {len(pairs)} utterances", *misses])


def test_holdout_is_disjoint_from_training_data() -> None:
    trained = _trained()
    leaked = [text for text, _ in _examples(HOLDOUT) if key(text) in trained]
    assert not leaked, f"held-out examples also in training data: {leaked}"


def test_public_evaluation_set_is_never_trained_on_and_large_enough() -> None:
    trained = _trained()
    for language in ("zh", "en"):
        rows = _public(language)
        assert len(rows) >= 200, language
        leaked = [text for text, _ in rows if key(text) in trained]
        assert not leaked, f"public evaluation utterances also in training data: {leaked}"


async def test_intent_f1_on_held_out_examples(engine: TestClient) -> None:
    dialogue = engine.app[DIALOGUE].dialogue
    assert dialogue is not None
    pairs = [(t, e, (await dialogue.parse(t))["intent"]["name"]) for t, e in _examples(HOLDOUT)]
    macro, report = macro_f1(pairs)
    print(report)
    assert macro >= MIN_MACRO_F1, report


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_dialogue_acts_on_public_utterances(engine: TestClient, language: str) -> None:
    """What the dialogue takes each message for when the KB has no answer (bot.dialogue.scope)."""
    dialogue = engine.app[DIALOGUE].dialogue
    assert dialogue is not None
    pairs = []
    for text, expected in _public(language):
        decided = scope.decide(await dialogue.parse(text), None, offer_pending=False).intent
        pairs.append((text, expected, "ask_question" if decided in KB_DECIDES else decided))
    macro, report = macro_f1(pairs)
    print(report)
    assert macro >= MIN_MACRO_F1, report
