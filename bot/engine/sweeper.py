"""The background sweep every instance runs each second (every claim it makes is atomic in Redis).

It requeues lapsed offers and lost agents' work, picks up inbound and push streams whose worker died, tells
waiting customers of a better place, repairs conversations left QUEUED without a ticket, closes
conversations whose customer went silent, escalates complaint cases that are due, closes the cases
whose customer never answered the sign-off question, and ends the presence time of agents whose console
went quiet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.engine.delivery import Outbox
from bot.engine.intake import InboundQueue
from bot.wiring import Services
from core.ports import Deliver
from handoff.complaints import escalate_due
from handoff.updates import tell_changes

log = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0
# Silence is counted in minutes: reading every held conversation's transcript each second would be waste.
SILENCE_EVERY_ROUNDS = 15
# Waiting customers hear of a better place within a few seconds; reading every queue each second is waste.
UPDATES_EVERY_ROUNDS = 5
# A conversation QUEUED without a ticket (its instance died between the two steps) is rare: look every 10 s.
REPAIR_EVERY_ROUNDS = 10
# Complaint deadlines are minutes to hours long: looking every 5 s escalates well within a minute.
CASES_EVERY_ROUNDS = 5
# A console gone quiet ends its agent's presence stretch one heartbeat lifetime after its last beat; the
# stretch is counted that way whenever it is noticed, so looking every 15 s is plenty.
PRESENCE_EVERY_ROUNDS = 15
# While Redis is down every round fails alike: one traceback, then a line a minute, not one a second.
FAILURE_LOG_EVERY_ROUNDS = 60


@dataclass
class Sweeper:
    """One instance's sweep loop."""

    services: Services
    inbound: InboundQueue
    outbox: Outbox
    deliver: Deliver
    max_wait_seconds: float
    silence_seconds: float

    async def tell(self, conversation_id: str, text: str, buttons: Sequence[tuple[str, str]]) -> None:
        """Tell a waiting customer something and keep it in the transcript."""
        await self.deliver(conversation_id, text, "", buttons)
        await self.services.transcripts.append(conversation_id, "system", text)

    async def round(self, rounds: int) -> None:
        """Do one round's work; some jobs run only every few rounds."""
        services = self.services
        # A supervisor's routing change reaches every instance within a round.
        await services.routing.refresh()
        await services.queue.sweep()
        await self.inbound.recover()
        await self.outbox.recover()
        if rounds % UPDATES_EVERY_ROUNDS == 0:
            await tell_changes(services.queue, self.tell, max_wait_seconds=self.max_wait_seconds)
        if rounds % REPAIR_EVERY_ROUNDS == 0:
            await services.handoff.repair()
        if self.silence_seconds and rounds % SILENCE_EVERY_ROUNDS == 0:
            await services.closing.close_silent(self.silence_seconds)
        if rounds % CASES_EVERY_ROUNDS == 0:
            await self.cases()
        if rounds % PRESENCE_EVERY_ROUNDS == 0:
            # Every agent: the queue may have set a lost agent offline without a status change to report.
            await services.presence.sweep(a.id for a in await services.queue.agents())

    async def cases(self) -> None:
        """Escalate complaint cases that are due and close those the customer left unanswered."""
        cases = self.services.handoff.complaints
        if cases is not None:
            await escalate_due(cases)
            await self.services.signoff.close_silent()

    async def run(self) -> None:
        """Sweep each second until cancelled, logging failures without flooding the log."""
        rounds = failures = 0
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            rounds += 1
            try:
                await self.round(rounds)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                if failures == 1:
                    log.warning("handoff sweep failed", exc_info=True)
                elif failures % FAILURE_LOG_EVERY_ROUNDS == 0:
                    still = {"failures": failures, "error": repr(exc)}
                    log.warning("handoff sweep still failing", extra=still)
            else:
                if failures:
                    log.info("handoff sweep working again", extra={"failures": failures})
                failures = 0
