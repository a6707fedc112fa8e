"""Rasa's NLU parse for every waiting conversation at once: one graph run and one DIET inference per batch.

Rasa parses one message per call, on the event loop; under load most of a turn's CPU is DIET's inference
for a batch of one (bench/RESULTS.md, issue 17), whose cost is mostly TensorFlow's per-call overhead. Here
each parse joins a queue; a thread of its own takes everything queued at once and runs Rasa's own NLU
graph on that list, so concurrent conversations share one inference, and the loop keeps serving while
TensorFlow runs. When nothing else is waiting a message goes alone, so a quiet engine adds no delay.
The parse is Rasa's: the same graph, components and post-processing; tests compare it with Rasa's
one-message parse (tests/bot/test_nlu_batch.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
from rasa.engine.graph import GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.tensorflow.constants import ENTITY_RECOGNITION, FEATURIZERS, INTENT_CLASSIFICATION

log = logging.getLogger(__name__)

# Past this, a batch's padding to its longest message costs more than the calls it saves.
MAX_BATCH = 32
# A batch about to run waits at most this long for turns already on their way to their parse (turns that
# hold their conversation's lock and are reading its tracker): measured +4-11 % msgs per CPU-second.
LINGER_SECONDS = 0.010


class _Coming:
    """One turn, its conversation lock held, that has not asked for its parse yet."""

    counted = True


_COMING: ContextVar[_Coming | None] = ContextVar("nlu_batch_coming", default=None)


@dataclass
class _Waiting:
    message: UserMessage
    only_output_properties: bool
    future: asyncio.Future[dict[str, Any]]


def _tracker_free(schema: GraphSchema, target: str) -> bool:
    """Return whether no node the NLU target depends on reads the tracker (so one run can serve many)."""
    nlu = schema.minimal_graph_schema([target])
    return all(PLACEHOLDER_TRACKER not in node.needs.values() for node in nlu.nodes.values())


class BatchedParse:
    """A drop-in for ``MessageProcessor.parse_message`` that parses waiting messages together."""

    def __init__(self, processor: MessageProcessor, max_batch: int = MAX_BATCH) -> None:
        """Batch ``processor``'s NLU; a model whose NLU reads the tracker is parsed one message at a time."""
        self.processor = processor
        self.original = processor.parse_message
        self.max_batch = max_batch
        self.runs = 0  # NLU graph runs so far (tests compare it with the parses asked for)
        # Called with each run's size (in the batch thread), e.g. a Prometheus histogram's observe.
        self.observers: list[Callable[[int], object]] = []
        metadata = processor.model_metadata
        self.target = metadata.nlu_target
        self.enabled = (
            processor.http_interpreter is None
            and isinstance(processor.graph_runner, DaskGraphRunner)
            and _tracker_free(metadata.predict_schema, self.target)
        )
        if self.enabled:
            batch_diet_inference(processor.graph_runner)
        self._waiting: list[_Waiting] = []
        self._drainer: asyncio.Task[None] | None = None
        self._coming = 0
        self._changed = asyncio.Event()
        # One thread: batches run one after another, and the next fills while one runs.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="nlu-batch")

    @contextmanager
    def turn_coming(self) -> Iterator[None]:
        """Count a turn that will ask for its parse soon, so that a batch about to run can wait for it.

        Enter it with the conversation lock held: a turn still waiting for its lock may wait on a turn
        of the same conversation that is itself in the batch.
        """
        coming = _Coming()
        self._coming += 1
        token = _COMING.set(coming)
        try:
            yield
        finally:
            _COMING.reset(token)
            self._arrived(coming)

    def _arrived(self, coming: _Coming | None) -> None:
        if coming is not None and coming.counted:
            coming.counted = False
            self._coming -= 1
            self._changed.set()

    async def __call__(
        self,
        message: UserMessage,
        tracker: DialogueStateTracker | None = None,
        only_output_properties: bool = True,
    ) -> dict[str, Any]:
        """Return Rasa's parse of ``message``."""
        if not self.enabled:
            return dict(await self.original(message, tracker, only_output_properties))
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(message, only_output_properties, future))
        self._arrived(_COMING.get())
        self._changed.set()
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            await self._linger()
            batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            try:
                parsed = await loop.run_in_executor(self._thread, self._run, batch)
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0], error=exc)
                    continue
                log.warning("nlu batch of %d failed; parsing its messages one by one", len(batch))
                for waiting in batch:
                    try:
                        [alone] = await loop.run_in_executor(self._thread, self._run, [waiting])
                    except Exception as error:
                        _settle(waiting, error=error)
                    else:
                        _settle(waiting, alone)
                continue
            for waiting, parse in zip(batch, parsed, strict=True):
                _settle(waiting, parse)

    async def _linger(self) -> None:
        """Wait (briefly) while turns on their way could still join the batch."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LINGER_SECONDS
        while self._coming > 0 and len(self._waiting) < self.max_batch:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                return

    def _run(self, batch: list[_Waiting]) -> list[dict[str, Any]]:
        """Run the NLU graph on ``batch`` (in the batch thread), as Rasa's parse_message does for one."""
        processor = self.processor
        results = processor.graph_runner.run(
            inputs={
                PLACEHOLDER_MESSAGE: [w.message for w in batch],
                # No NLU node reads it (checked at start); Rasa passes a new, empty tracker likewise.
                PLACEHOLDER_TRACKER: DialogueStateTracker.from_events("nlu-batch", []),
            },
            targets=[self.target],
        )
        messages: list[Message] = results[self.target]
        self.runs += 1
        for observe in self.observers:
            observe(len(batch))
        parses = []
        for waiting, parsed in zip(batch, messages, strict=True):
            parse_data: dict[str, Any] = {
                TEXT: "",
                INTENT: {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0},
                ENTITIES: [],
            }
            parse_data.update(parsed.as_dict(only_output_properties=waiting.only_output_properties))
            processor._update_full_retrieval_intent(parse_data)
            processor._check_for_unseen_features(parse_data)
            parses.append(parse_data)
        return parses


def _settle(waiting: _Waiting, parse: dict[str, Any] | None = None, error: Exception | None = None) -> None:
    if waiting.future.done():
        return  # its turn was cancelled meanwhile
    if error is not None:
        waiting.future.set_exception(error)
    else:
        waiting.future.set_result(parse or {})


def batch_diet_inference(runner: DaskGraphRunner) -> None:
    """Make each DIET classifier of ``runner`` predict a list of messages in one inference.

    Rasa's ``DIETClassifier.process`` loops over its list, one inference per message. Only intent
    classification is batched (this model's DIET has entity recognition off); a DIET that recognises
    entities or adds diagnostic data keeps Rasa's loop.
    """
    for node in runner._instantiated_nodes.values():
        component = getattr(node, "_component", None)
        if not isinstance(component, DIETClassifier) or getattr(node, "_batched", False):
            continue
        config = component.component_config
        if config[ENTITY_RECOGNITION] or not config[INTENT_CLASSIFICATION]:
            continue
        if component._execution_context.should_add_diagnostic_data or node._fn_name != "process":
            continue
        # The graph node calls the class's function with the component: that call is replaced.
        node._fn = _batched_process(component)
        node._batched = True


def _batched_process(component: DIETClassifier) -> Callable[[DIETClassifier, list[Message]], list[Message]]:
    original = component.process
    featurizers = component.component_config.get(FEATURIZERS)

    def process(_component: DIETClassifier, messages: list[Message]) -> list[Message]:
        # Rasa predicts nothing for a message without features; those keep its own path.
        featured = [m for m in messages if m.features_present(attribute=TEXT, featurizers=featurizers)]
        if len(featured) < 2 or component.model is None:
            original(messages)
            return messages
        chosen = {id(m) for m in featured}
        original([m for m in messages if id(m) not in chosen])
        model_data = component._create_model_data(featured, training=False)
        out = component.model.run_inference(model_data, batch_size=len(featured))
        scores = out["i_scores"]
        for i, message in enumerate(featured):
            label, ranking = component._predict_label({"i_scores": scores[i : i + 1]})
            message.set(INTENT, label, add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    return process
