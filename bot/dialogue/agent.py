"""The Rasa dialogue core, loaded in-process: agent, Redis-backed stores and in-process actions."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection as SdkRejection
from rasa_sdk.interfaces import ActionNotFoundException

import knowledge_base
from bot.dialogue import model_load, scope
from bot.dialogue.graph_runner import SequentialGraphRunner
from bot.dialogue.lock_store import RedisTicketLockStore
from bot.dialogue.nlu_batch import MAX_BATCH, BatchedParse
from bot.dialogue.tracker_store import RedisEventTrackerStore
from core.language import detect_language
from core.messages import Inbound, Outbound
from core.redis import AsyncRedis

log = logging.getLogger(__name__)
_LOADING = threading.Lock()

ACTIONS_PACKAGE = "bot.actions"


def _compile_action_response_validation() -> None:
    """Make Rasa validate action responses with a validator compiled once, not once per call.

    RemoteAction checks every action response with ``jsonschema.validate``, which first re-validates
    Rasa's constant response schema against the JSON Schema metaschema: measured at 41 % of the
    engine's CPU under load (bench/RESULTS.md). Rasa builds RemoteAction itself with no hook to
    change this, so the method is replaced here with one that checks the same schema with the
    same error, minus the repeated metaschema check.
    """
    if getattr(RemoteAction._validate_action_result, "_compiled", False):
        return
    schema = RemoteAction.action_response_format_spec()
    validator = validator_for(schema)(schema)
    original = RemoteAction._validate_action_result

    def validate(self: RemoteAction, result: dict[str, Any]) -> bool:
        error = best_match(validator.iter_errors(result))
        if error is None:
            return True
        # The original adds Rasa's explanation to the message and raises: let it build the error.
        return bool(original(self, result))

    validate._compiled = True  # type: ignore[attr-defined]
    RemoteAction._validate_action_result = validate


class InProcessActionEndpoint(EndpointConfig):
    """An action "endpoint" that runs rasa_sdk actions in this process instead of over HTTP.

    Rasa's RemoteAction hands the endpoint the exact JSON an action server would receive; the
    rasa_sdk executor answers it with the exact JSON an action server would send. The actions stay
    ordinary rasa_sdk actions that ``rasa run actions --actions bot.actions`` can serve as well.
    """

    def __init__(self, package: str = ACTIONS_PACKAGE) -> None:
        """Register every action in ``package``."""
        # Selective domain: Rasa serialises the whole domain into every action call unless asked
        # not to; our actions read slots and the latest message only.
        super().__init__(url=f"inprocess://{package}", enable_selective_domain=True)
        self.executor = ActionExecutor()
        self.executor.register_package(package)
        _compile_action_response_validation()

    async def request(
        self,
        method: str = "post",
        subpath: str | None = None,
        content_type: str | None = "application/json",
        compress: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Run the action call in ``kwargs['json']`` and return the action server's response body."""
        try:
            return await self.executor.run(kwargs["json"])
        except SdkRejection as exc:
            raise ActionExecutionRejection(exc.action_name, exc.message) from exc
        except ActionNotFoundException as exc:
            raise RasaException(f"no such action: {exc.action_name}") from exc


class ScopedParse:
    """Rasa's NLU parse followed by the scope decision (`bot.dialogue.scope`) against the live KB.

    Installed as the processor's ``parse_message``, which Rasa calls with the conversation's tracker
    before its policies run: the policies then see the decided intent. Without a knowledge base in
    use (a bare parse), Rasa's own parse is returned unchanged.
    """

    def __init__(
        self, processor: MessageProcessor, rules: scope.ScopeRules | None = None, max_batch: int = MAX_BATCH
    ) -> None:
        """Wrap ``processor``'s own parse, run for concurrent conversations together (`nlu_batch`)."""
        self.batched = BatchedParse(processor, max_batch)
        self._parse = self.batched
        self.rules = rules or scope.ScopeRules()

    async def __call__(
        self,
        message: UserMessage,
        tracker: DialogueStateTracker | None = None,
        only_output_properties: bool = True,
    ) -> dict[str, Any]:
        """Parse ``message`` and decide its scope."""
        parse = dict(await self._parse(message, tracker, only_output_properties))
        if not knowledge_base.active():
            return parse
        text = str(parse.get("text") or message.text or "")
        slots = tracker.current_slot_values() if tracker is not None else {}
        # The language the reply and the KB use: this message's, else the conversation's so far.
        language = detect_language(text) or slots.get("language")
        found = None if text.startswith("/") else await knowledge_base.find(text, language)
        decided = scope.decide(parse, found, offer_pending=bool(slots.get("offered_human")), rules=self.rules)
        log.info("scope", extra={"conversation": message.sender_id, "scope": decided.explain()})
        return scope.apply(parse, decided)


class Dialogue:
    """One loaded Rasa agent whose trackers and locks live in Redis."""

    def __init__(
        self, agent: Agent, lock_store: RedisTicketLockStore, nlu_max_batch: int = MAX_BATCH
    ) -> None:
        """Wrap a loaded agent; its processor's parse is followed by the scope decision."""
        self.agent = agent
        self.lock_store = lock_store
        processor = agent.processor
        assert processor is not None, "a loaded agent has a processor"
        # Agent.load wraps the store in FailSafeTrackerStore, which answers a failed read with a new,
        # empty tracker and keeps a failed save in this process's memory: a Redis outage would restart
        # the customer's conversation and split it between instances. Without it a failed read or save
        # fails the turn, which the intake retries and a webhook answers with 503.
        if isinstance(agent.tracker_store, FailSafeTrackerStore):
            agent.tracker_store = processor.tracker_store = agent.tracker_store._tracker_store
        # Rasa has no hook between its NLU and its policies; the processor's own method is the seam.
        self._scoped = ScopedParse(processor, max_batch=nlu_max_batch)
        processor.parse_message = self._scoped

    def watch_nlu_batches(self, observe: Callable[[int], object]) -> None:
        """Call ``observe`` with the size of every NLU run (from the NLU batch thread)."""
        self._scoped.batched.observers.append(observe)

    @property
    def model_name(self) -> str:
        """Return the loaded model's file name."""
        return str(self.agent.model_name)

    @classmethod
    def load(
        cls, model: Path, client: AsyncRedis, prefix: str, tracker_ttl: int, nlu_max_batch: int = MAX_BATCH
    ) -> Dialogue:
        """Load the model (blocking: call it in a thread) with Redis stores and in-process actions.

        One load at a time per process: TensorFlow's graph building races when two models load at once
        ("Operation 'Square_25' has no attr named '_read_only_resource_inputs'", seen in CI), and a load
        whose engine stopped meanwhile carries on in its thread, beside the next engine's.
        """
        locks = RedisTicketLockStore(client, prefix)
        model_load.install()
        with _LOADING:
            agent = Agent.load(
                model,
                tracker_store=RedisEventTrackerStore(None, client, prefix, tracker_ttl),
                lock_store=locks,
                action_endpoint=InProcessActionEndpoint(),
            )
        if agent.processor is not None and isinstance(agent.processor.graph_runner, DaskGraphRunner):
            agent.processor.graph_runner = SequentialGraphRunner.from_runner(agent.processor.graph_runner)
        return cls(agent, locks, nlu_max_batch)

    @asynccontextmanager
    async def conversation_lock(self, conversation_id: str) -> AsyncIterator[None]:
        """Serialise work on one conversation across every instance, in arrival order."""
        async with self.lock_store.lock(conversation_id):
            yield

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        """Run one customer message through Rasa; the caller holds the conversation lock."""
        output = CollectingOutputChannel()
        message = UserMessage(
            inbound.text,
            output,
            sender_id=inbound.conversation_id,
            input_channel=inbound.channel,
            message_id=inbound.message_id,
            metadata=dict(inbound.metadata),
        )
        # The processor, not Agent.handle_message: the agent would take the conversation lock again.
        processor = self.agent.processor
        assert processor is not None, "Dialogue.load always sets a processor"
        if inbound.replayed and inbound.message_id:
            answered = await self._answered_before(inbound)
            if answered is not None:
                return answered
        # One KB match per turn: the scope decision's, reused by the answering action.
        with knowledge_base.one_turn(), self._scoped.batched.turn_coming():
            responses = await processor.handle_message(message) or []
        return [Outbound.from_rasa(r) for r in responses]

    async def _answered_before(self, inbound: Inbound) -> list[Outbound] | None:
        """Return the replies of a turn Rasa finished (and saved) for this message, if it did."""
        tracker = await self.agent.tracker_store.retrieve(inbound.conversation_id)
        events = list(tracker.events) if tracker is not None else []
        mine = inbound.message_id
        starts = [i for i, e in enumerate(events) if isinstance(e, UserUttered) and e.message_id == mine]
        if not starts:
            return None  # the dead worker never saved this turn: run it
        log.info("replayed turn answered from the tracker", extra={"conversation": inbound.conversation_id})
        replies: list[Outbound] = []
        for event in events[starts[-1] + 1 :]:
            if isinstance(event, UserUttered):
                break
            if isinstance(event, BotUttered):
                # The shape of the messages Rasa's output channel collected from the same event.
                said = {"recipient_id": inbound.conversation_id, "text": event.text, **event.data}
                replies.append(Outbound.from_rasa(said))
        return replies

    async def parse(self, text: str) -> dict[str, Any]:
        """Return Rasa's NLU parse of ``text`` (intent, ranking, entities)."""
        return dict(await self.agent.parse_message(text))
