"""The services an action runs with: its engine's (in-process), or the ones `bot.wiring` builds.

In the engine the router has already made its services current. A standalone ``rasa run actions
--actions bot.actions`` process has no router, so the first action builds the same services the engine
builds, from the same settings (``REDIS_URL`` must be set), and keeps them for the process's life.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

import handoff
import knowledge_base
from bot.settings import Settings
from bot.wiring import Services, build_services
from core.redis import async_client

_standalone: Services | None = None
_building = asyncio.Lock()


async def standalone_services() -> Services:
    """Return this process's services, building them (and loading the knowledge base) the first time."""
    global _standalone
    async with _building:
        if _standalone is None:
            settings = Settings.from_env()
            if not settings.redis_url:
                raise RuntimeError("REDIS_URL must be set for a standalone action server")
            services = build_services(async_client(settings.redis_url), settings)
            await services.knowledge.start()
            _standalone = services
        # No sweep runs here: a supervisor's routing change is read at most a second late.
        await _standalone.routing.refresh_if_older(1.0)
    return _standalone


@asynccontextmanager
async def engine_services() -> AsyncIterator[None]:
    """Run the block with the engine's services current (already so in-process)."""
    if handoff.active() and knowledge_base.active():
        yield
        return
    services = await standalone_services()
    with handoff.using(services.handoff), knowledge_base.using(services.knowledge):
        yield


class EngineAction(Action, metaclass=abc.ABCMeta):
    """A custom action that calls the engine's services (handoff, knowledge base)."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Run `act` with the engine's services current."""
        async with engine_services():
            return await self.act(dispatcher, tracker, domain)

    @abc.abstractmethod
    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Do the action's work; subclasses override this instead of `run`."""
