"""Intent classification on a held-out slice that the model never trained on."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml
from aiohttp.test_utils import TestClient

from bot.appkeys import DIALOGUE

HOLDOUT = Path(__file__).parent.parent / "data" / "nlu_holdout.yml"
TRAINING = Path(__file__).parent.parent.parent / "training_data" / "nlu.yml"
MIN_MACRO_F1 = 0.9


def _examples(path: Path) -> list[tuple[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    pairs = []
    for block in data["nlu"]:
        for line in block["examples"].splitlines():
            text = line.strip().removeprefix("- ").strip()
            if text:
                pairs.append((text, block["intent"]))
    return pairs


def test_holdout_is_disjoint_from_training_data() -> None:
    trained = {text for text, _ in _examples(TRAINING)}
    leaked = [text for text, _ in _examples(HOLDOUT) if text in trained]
    assert not leaked, f"held-out examples also in training data: {leaked}"


async def test_intent_f1_on_held_out_examples(engine: TestClient) -> None:
    dialogue = engine.app[DIALOGUE].dialogue
    assert dialogue is not None
    examples = _examples(HOLDOUT)
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    misses = []
    for text, expected in examples:
        predicted = (await dialogue.parse(text))["intent"]["name"]
        if predicted == expected:
            tp[expected] += 1
        else:
            fp[predicted] += 1
            fn[expected] += 1
            misses.append(f"{text!r}: {expected} → {predicted}")
    intents = sorted({intent for _, intent in examples})
    lines, f1s = [], []
    for intent in intents:
        precision = tp[intent] / (tp[intent] + fp[intent]) if tp[intent] + fp[intent] else 0.0
        recall = tp[intent] / (tp[intent] + fn[intent]) if tp[intent] + fn[intent] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        lines.append(f"{intent:15} P={precision:.2f} R={recall:.2f} F1={f1:.2f}")
    macro = sum(f1s) / len(f1s)
    report = "\n".join([*lines, f"macro F1 = {macro:.3f} over {len(examples)} examples", *misses])
    print(report)
    assert macro >= MIN_MACRO_F1, report
