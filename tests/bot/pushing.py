"""A push channel that posts to a local HTTP server, and a process that queues pushes through it.

``python -m tests.bot.pushing REDIS_URL PREFIX CONVERSATION URL TEXT...`` queues each TEXT in the durable
outbox and then waits to be killed: the process a test kills in the middle of a send.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
from aiohttp import web

from bot.engine.delivery import Outbox
from channels.base import Channel
from core import lease
from core.keys import Keys
from core.messages import Outbound
from core.ports import Core, SendFailed
from core.redis import AsyncRedis, async_client
from core.transcript import Transcripts

# Short-lived leases, so that the test waits a second for the takeover rather than ten.
KILLED_LEASE_MS = 1000


class PostingChannel(Channel):
    """Sends each message as a JSON POST to ``url``; a 5xx is a retryable failure."""

    name = "telegram"

    def __init__(self, url: str) -> None:
        self.url = url

    def register(self, app: web.Application, core: Core) -> None:
        return None

    async def send_text(self, recipient_id: str, text: str) -> None:
        body = {"to": recipient_id, "text": text}
        async with aiohttp.ClientSession() as http, http.post(self.url, json=body) as response:
            if response.status >= 500:
                raise SendFailed(f"HTTP {response.status}", retryable=True)


def outbox_for(url: str, client: AsyncRedis, prefix: str) -> Outbox:
    """Return an outbox on ``prefix`` whose only channel posts to ``url``."""
    keys = Keys(prefix)
    channel = PostingChannel(url)
    return Outbox(client, keys, Transcripts(client, keys), lambda name: channel, delays=(0.05, 0.05))


async def main(redis_url: str, prefix: str, conversation: str, url: str, texts: list[str]) -> None:
    """Queue ``texts`` and wait to be killed."""
    lease.LEASE_MS = KILLED_LEASE_MS
    outbox = outbox_for(url, async_client(redis_url), prefix)
    for text in texts:
        await outbox.send(conversation, Outbound("", text))
    print("queued", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]))
