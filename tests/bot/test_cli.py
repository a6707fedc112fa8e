"""`python -m bot serve` as `make run` starts it: embedded Redis, clean stop on Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from bot.settings import PROJECT_ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_with_embedded_redis_and_stop_on_ctrl_c(trained_model: Path, tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(VAR_DIR=str(tmp_path), MODEL_DIR=str(trained_model.parent), PORT=str(port), LOG_FORMAT="json")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--no-train",
        cwd=PROJECT_ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        # The engine logs one JSON object per line; wait for the one that says the model is loaded.
        # (Rasa's coloured warnings may leave an escape code in front of it on the same line.)
        async def loaded() -> None:
            while line := await proc.stderr.readline():  # type: ignore[union-attr]
                start = line.find(b"{")
                if start >= 0 and json.loads(line[start:]).get("msg") == "dialogue model loaded":
                    return
            raise AssertionError("engine exited before loading its model")

        await asyncio.wait_for(loaded(), 180)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
            url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
            async with session.post(url, json={"sender": "cli", "message": "你好"}) as response:
                assert "您好" in (await response.json())[0]["text"]
        proc.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()[-2000:]
    assert b"embedded redis stopped" in stderr
    # Saved on the way out, in var/: the next start finds the conversation state again.
    assert (tmp_path / "redis" / "engine.rdb").stat().st_size > 0
