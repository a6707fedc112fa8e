"""Cut the public intent data: training examples and a held-out evaluation set, from separate splits.

    python scripts/public_intents.py --crosswoz DIR --sgd DIR

``DIR`` are checkouts of github.com/thu-coai/CrossWOZ (Apache-2.0; ``data/crosswoz/{val,test}.json.zip``)
and github.com/google-research-datasets/dstc8-schema-guided-dialogue (CC BY-SA 4.0). Customer turns
whose only dialogue act maps to one of our intents are kept, deduplicated, and sampled with a fixed
seed:

* training (``training_data/public_nlu.yml``): CrossWOZ *val*, SGD *train* files 001-020;
* evaluation (``tests/data/intents_public.tsv``, never trained on): CrossWOZ *test*, SGD *test*.

Questions of any kind (CrossWOZ turns that inform or request about a domain, SGD REQUEST turns) are
``ask_question``: the knowledge base decides them, so an intent model that calls them a greeting, a
bot challenge or a request for a human is wrong. Sources and licences: tests/data/README.md.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261201
SGD_ACTS = {
    "AFFIRM": "affirm",
    "AFFIRM_INTENT": "affirm",
    "NEGATE": "deny",
    "NEGATE_INTENT": "deny",
    "THANK_YOU": "thanks",
    "GOODBYE": "goodbye",
    "REQUEST": "ask_question",
}


def crosswoz_turns(archive: Path) -> Iterator[tuple[str, str]]:
    """Yield (text, intent) for CrossWOZ customer turns with one mappable act."""
    with zipfile.ZipFile(archive) as z:
        name = z.namelist()[0]
        dialogues = json.load(io.TextIOWrapper(z.open(name), encoding="utf-8"))
    for dialogue in dialogues.values():
        for message in dialogue["messages"]:
            if message["role"] != "usr":
                continue
            # An act is [intent, domain, slot, value]; the social acts have intent "General".
            general = {a[1] for a in message["dialog_act"] if a[0] == "General"}
            other = [a for a in message["dialog_act"] if a[0] != "General"]
            text = message["content"].strip()
            if other and general <= {"greet"}:
                yield text, "ask_question"  # a question, with or without a greeting in front
            elif not other and general == {"thank"}:
                yield text, "thanks"
            elif not other and "bye" in general:
                yield text, "goodbye"


def sgd_turns(files: list[Path]) -> Iterator[tuple[str, str]]:
    """Yield (text, intent) for SGD user turns whose acts all map to one intent."""
    for path in files:
        for dialogue in json.loads(path.read_text(encoding="utf-8")):
            for turn in dialogue["turns"]:
                if turn["speaker"] != "USER":
                    continue
                acts = {a["act"] for frame in turn["frames"] for a in frame["actions"]}
                intents = {SGD_ACTS.get(act) for act in acts}
                if len(intents) == 1 and None not in intents:
                    yield turn["utterance"].strip(), intents.pop()  # type: ignore[misc]


def key(text: str) -> str:
    """Return what two utterances share when they differ only in case, spaces and punctuation."""
    return re.sub(r"[\W_]+", "", text.lower())


def _yaml_keys(path: Path) -> set[str]:
    """Return the keys of every example in a Rasa NLU file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {key(line.strip().removeprefix("- ")) for b in data["nlu"] for line in b["examples"].splitlines()}


def sample(turns: Iterator[tuple[str, str]], per_intent: int, seed: int) -> list[tuple[str, str]]:
    """Deduplicate (case and punctuation aside) and draw up to ``per_intent`` texts per intent."""
    by_intent: dict[str, dict[str, str]] = {}
    for text, intent in turns:
        unique = key(text)
        if unique:
            by_intent.setdefault(intent, {}).setdefault(unique, text)
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for intent in sorted(by_intent):
        texts = sorted(by_intent[intent].values())
        rng.shuffle(texts)
        out.extend((text, intent) for text in texts[:per_intent])
    return out


def main() -> None:
    """Write the training file and the evaluation file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crosswoz", type=Path, required=True, help="extracted CrossWOZ checkout")
    parser.add_argument("--sgd", type=Path, required=True, help="SGD checkout")
    args = parser.parse_args()
    cw = args.crosswoz / "data" / "crosswoz"
    sgd_train = [args.sgd / "train" / f"dialogues_{i:03d}.json" for i in range(1, 21)]
    train = sample(crosswoz_turns(cw / "val.json.zip"), 150, SEED) + sample(sgd_turns(sgd_train), 150, SEED)
    evaluation = [("zh", *t) for t in sample(crosswoz_turns(cw / "test.json.zip"), 120, SEED + 1)]
    evaluation += [
        ("en", *t) for t in sample(sgd_turns(sorted((args.sgd / "test").glob("*.json"))), 60, SEED + 1)
    ]
    # Our own held-out slice stays held out: public examples that repeat it are not trained on.
    held_keys = _yaml_keys(ROOT / "tests" / "data" / "nlu_holdout.yml")
    train = [(t, i) for t, i in train if key(t) not in held_keys]
    # Nothing evaluated may be trained on: neither these public examples nor our own training data.
    trained = {key(t) for t, _ in train} | _yaml_keys(ROOT / "training_data" / "nlu.yml")
    evaluation = [row for row in evaluation if key(row[1]) not in trained]
    blocks: dict[str, list[str]] = {}
    for text, intent in train:
        blocks.setdefault(intent, []).append(text)
    lines = [
        'version: "3.1"',
        "# Generated by scripts/public_intents.py from public corpora: CrossWOZ val (Apache-2.0) and SGD",
        "# train 001-020 (CC BY-SA 4.0); see tests/data/README.md. Do not edit by hand: rerun the script.",
        "nlu:",
    ]
    for intent in sorted(blocks):
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {' '.join(text.split())}" for text in blocks[intent]]
    (ROOT / "training_data" / "public_nlu.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with (ROOT / "tests" / "data" / "intents_public.tsv").open("w", encoding="utf-8") as out:
        out.write("language\ttext\tintent\n")
        for language, text, intent in evaluation:
            out.write(f"{language}\t{text}\t{intent}\n")
    print(f"{len(train)} training examples, {len(evaluation)} evaluation utterances")


if __name__ == "__main__":
    main()
