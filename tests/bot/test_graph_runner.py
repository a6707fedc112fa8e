"""The served model's graph, walked in order by SequentialGraphRunner, gives what Rasa's dask runner gives."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from rasa.core.channels.channel import UserMessage
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.appkeys import DIALOGUE
from bot.dialogue.graph_runner import SequentialGraphRunner, dependency_order
from tests.bot.test_nlu_batch import TEXTS, _compare


def _dask_twin(runner: SequentialGraphRunner) -> DaskGraphRunner:
    """Return Rasa's own runner over the very same loaded nodes."""
    twin = DaskGraphRunner.__new__(DaskGraphRunner)
    twin._graph_schema = runner._graph_schema
    twin._instantiated_nodes = runner._instantiated_nodes
    twin._execution_context = runner._execution_context
    return twin


async def test_parses_and_next_actions_equal_the_dask_runners(engine: TestClient) -> None:
    dialogue = engine.app[DIALOGUE].dialogue
    assert dialogue is not None
    processor = dialogue.agent.processor
    runner = processor.graph_runner
    assert isinstance(runner, SequentialGraphRunner), "the engine serves with the sequential runner"
    twin = _dask_twin(runner)
    empty = DialogueStateTracker.from_events("graph-runner", [])
    # No await between a swap and its restore: no turn of the shared engine runs on the twin.
    for text in TEXTS:
        ours = processor._parse_message_with_graph(UserMessage(text), empty)
        processor.graph_runner = twin
        try:
            theirs = processor._parse_message_with_graph(UserMessage(text), empty)
        finally:
            processor.graph_runner = runner
        _compare(theirs, ours)
        # The next action after that message, with every policy's probabilities.
        tracker = DialogueStateTracker.from_events(
            "graph-runner",
            [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")],
        )
        tracker.update(UserUttered(text, ours["intent"], parse_data=ours))
        mine = processor._predict_next_with_tracker(tracker)
        processor.graph_runner = twin
        try:
            rasas = processor._predict_next_with_tracker(tracker)
        finally:
            processor.graph_runner = runner
        assert (mine.policy_name, mine.max_confidence_index) == (
            rasas.policy_name,
            rasas.max_confidence_index,
        )
        assert mine.probabilities == rasas.probabilities, text


def test_every_node_runs_after_what_it_needs(engine: TestClient) -> None:
    processor = engine.app[DIALOGUE].dialogue.agent.processor
    schema = processor.graph_runner._graph_schema
    targets = [processor.model_metadata.nlu_target, processor.model_metadata.core_target]
    order = dependency_order(schema, targets)
    position = {name: n for n, (name, _) in enumerate(order)}
    assert len(position) == len(order), "a node is run twice"
    assert set(position) == set(schema.minimal_graph_schema(targets).nodes)
    for name, needs in order:
        assert all(position[n] < position[name] for n in needs if n in position), name


def test_a_run_without_an_input_a_node_needs_is_refused(engine: TestClient) -> None:
    processor = engine.app[DIALOGUE].dialogue.agent.processor
    with pytest.raises(GraphRunError, match="needs"):
        processor.graph_runner.run(inputs={}, targets=[processor.model_metadata.nlu_target])
