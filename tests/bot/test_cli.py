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
import yaml

from bot.settings import PROJECT_ROOT
from knowledge_base.live import SEED_FILE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_two_workers_with_embedded_redis_and_stop_on_ctrl_c(
    trained_model: Path, tmp_path: Path
) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(VAR_DIR=str(tmp_path), MODEL_DIR=str(trained_model.parent), PORT=str(port), LOG_FORMAT="json")
    env.update(WORKERS="2")
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
        await asyncio.wait_for(loaded(), 180)  # both workers
        # Each new connection goes to one of the two processes on the port (SO_REUSEPORT).
        instances = set()
        for _ in range(40):
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    assert response.status == 200
                    instances.add((await response.json())["instance"])
                url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
                async with session.post(url, json={"sender": "cli", "message": "你好"}) as response:
                    assert "您好" in (await response.json())[0]["text"]
            if len(instances) == 2:
                break
        assert len(instances) == 2, instances
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


async def test_user_add_creates_a_login_that_works(redis_url: str, key_prefix: str) -> None:
    from core.redis import async_client, close_async
    from staff.accounts import Accounts

    prefix = key_prefix + "cli"
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_PREFIX": prefix}
    args = ("-m", "bot", "user", "add", "alice", "--role", "editor", "--password-stdin")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=PROJECT_ROOT, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate(b"s3cret-password\n")
    assert proc.returncode == 0, err.decode()
    assert b"alice saved" in out
    short = await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=PROJECT_ROOT, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await short.communicate(b"short\n")
    assert short.returncode == 1
    assert b"at least 8 characters" in err
    client = async_client(redis_url)
    try:
        accounts = Accounts(client, prefix)
        session = await accounts.login("alice", "s3cret-password")
        assert session is not None
        assert session.roles == ("editor",)
        assert await accounts.login("alice", "wrong-password") is None
        assert await accounts.login("nobody", "s3cret-password") is None
        # The stored hash is scrypt, never the password.
        stored = await client.hget(f"{prefix}:users", "alice")
        assert stored is not None
        assert "s3cret-password" not in stored
        assert json.loads(stored)["password"].startswith("scrypt$")
    finally:
        await close_async(client)


async def _run_cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=PROJECT_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_kb_import_publish_and_export_files(redis_url: str, key_prefix: str, tmp_path: Path) -> None:
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_PREFIX": key_prefix + "files"}
    seed = str(SEED_FILE)
    code, out, err = await _run_cli(env, "kb", "import", "--file", seed, "--publish", "--message", "from git")
    assert code == 0, err
    assert "published version 1" in out

    exported = tmp_path / "live.xlsx"
    code, out, err = await _run_cli(env, "kb", "export", "--file", str(exported))
    assert code == 0, err
    assert exported.stat().st_size > 0
    entries = len(yaml.safe_load(SEED_FILE.read_bytes())["entries"])
    assert f"wrote {entries} entries" in out

    broken = tmp_path / "broken.csv"
    broken.write_text("id,question,answer\nok,问题,答案\nbad,,没有问题\n", encoding="utf-8")
    code, _, err = await _run_cli(env, "kb", "import", "--file", str(broken), "--publish")
    assert code == 1
    assert "line 3: entry bad: needs at least one question" in err
    # Nothing was half-imported: the draft still exports every seeded entry.
    code, out, _ = await _run_cli(env, "kb", "export", "--draft", "--file", str(tmp_path / "draft.yml"))
    assert f"wrote {entries} entries" in out


async def test_reports_rebuild_recomputes_the_roll_ups_from_the_events(
    redis_url: str, key_prefix: str
) -> None:
    from core.redis import async_client, close_async
    from reports.events import ServiceEvents

    prefix = key_prefix + "clirp"
    client = async_client(redis_url)
    try:
        events = ServiceEvents(client, prefix)
        await events.customer_message("rest:x", "m1")
        await events.observe("rating", "rest:x", key="r1", detail="5", value=5)
        day = events.keys.day(events.day_of(events.clock()))
        before = await client.hgetall(day)
        await client.delete(day)
        env = {**os.environ, "REDIS_URL": redis_url, "REDIS_PREFIX": prefix}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "reports", "rebuild", cwd=PROJECT_ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        assert b"rebuilt from 3 events" in out
        assert await client.hgetall(day) == before
    finally:
        await close_async(client)


async def test_customer_erase_removes_the_customer_and_is_audited(redis_url: str, key_prefix: str) -> None:
    from core.keys import Keys
    from core.redis import async_client, close_async
    from handoff.profiles import Profiles
    from staff.audit import AuditLog

    prefix = key_prefix + "clier"
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_PREFIX": prefix}
    client = async_client(redis_url)
    try:
        profile = await Profiles(client, prefix).seen("telegram:777", "telegram:777")
        await client.xadd(Keys(prefix).transcript("telegram:777"), {"role": "customer", "text": "你好"})
        code, out, err = await _run_cli(
            env, "customer", "erase", "--conversation", "telegram:777", "--by", "dpo"
        )
        assert code == 0, err
        assert f"erased profile {profile.id} and 1 conversation(s)" in out
        assert [k async for k in client.scan_iter(match=f"{prefix}:*777*")] == []
        (entry,) = await AuditLog(client, Keys(prefix)).search(action="customer_erased")
        assert (entry.actor, entry.target) == ("dpo", profile.id)
        code, _, err = await _run_cli(env, "customer", "erase", "--profile", "nobody")
        assert code == 1
        assert "no such customer" in err
    finally:
        async for key in client.scan_iter(match=f"{prefix}:*"):
            await client.delete(key)
        await close_async(client)
