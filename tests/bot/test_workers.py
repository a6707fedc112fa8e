"""WORKERS: a worker that dies is replaced, and a stop takes every worker with the supervisor."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp

from bot.settings import PROJECT_ROOT
from tests.processes import free_port


def children(pid: int) -> set[int]:
    """Return the live child processes of ``pid`` (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether process ``pid`` still exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def loaded(stream: asyncio.StreamReader) -> None:
    """Wait for the next worker's "dialogue model loaded" line (JSON logs)."""
    while line := await stream.readline():
        start = line.find(b"{")
        if start >= 0 and json.loads(line[start:]).get("msg") == "dialogue model loaded":
            return
    raise AssertionError("the engine exited before a worker loaded its model")


async def test_a_killed_worker_is_replaced_and_a_stop_ends_them_all(
    trained_model: Path, tmp_path: Path, redis_url: str, key_prefix: str
) -> None:
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_PREFIX": key_prefix + "wk", "WORKERS": "2"}
    env.update(VAR_DIR=str(tmp_path), MODEL_DIR=str(trained_model.parent), PORT=str(port), LOG_FORMAT="json")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--no-train",
        cwd=PROJECT_ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        for _ in range(2):
            await asyncio.wait_for(loaded(proc.stderr), 180)
        first = children(proc.pid)
        assert len(first) == 2
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        await asyncio.wait_for(loaded(proc.stderr), 180)  # its replacement
        now = children(proc.pid)
        assert len(now) == 2
        assert victim not in now
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
            async with session.post(url, json={"sender": "wk", "message": "你好"}) as response:
                assert "您好" in (await response.json())[0]["text"]
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert not [pid for pid in now if alive(pid)]  # the supervisor waited for both workers
