"""Command line: ``python -m bot serve|train|user|kb``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot import logging_setup
from bot.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from bot.wiring import Services

log = logging.getLogger("bot")


def _serve(settings: Settings, train: bool) -> int:
    from aiohttp import web

    from bot.app import create_app
    from bot.dialogue.training import ensure_model
    from bot.workers import is_worker, supervise

    if train and settings.model_path is None:
        ensure_model(settings.model_dir)  # once, here: the workers start with --no-train
    if not is_worker():
        shown_host = "localhost" if settings.host in ("127.0.0.1", "0.0.0.0") else settings.host
        url = f"http://{shown_host}:{settings.port}"
        widget = f", chat widget demo at {url}/webchat/demo" if settings.webchat is not None else ""
        processes = f"{settings.workers} engine processes; " if settings.workers > 1 else ""
        print(
            f"Engine on {url}  ({processes}web chat at {url}/{widget}, health at {url}/healthz; Ctrl-C stops)"
        )
        sys.stdout.flush()
        if settings.workers > 1:
            return supervise(settings, settings.workers)
    # Importing Rasa imports Sanic, which installs uvloop's loop policy process-wide; the engine runs
    # on the standard loop it is tested on (Rasa's own `rasa run` resets the policy the same way).
    asyncio.set_event_loop_policy(None)
    # run_app turns SIGINT/SIGTERM into a clean shutdown that runs every cleanup context.
    app = create_app(settings)
    web.run_app(app, host=settings.host, port=settings.port, print=None, reuse_port=is_worker())
    return 0


async def _with_services(settings: Settings, work: Callable[[Services], Awaitable[int]]) -> int:
    """Run ``work`` on the engine's services over REDIS_URL, or the embedded Redis (engine stopped)."""
    from bot.wiring import build_services
    from core.redis import connect, disconnect

    client, _, embedded = await connect(settings.redis_url, settings.var_dir)
    try:
        # The same services the engine builds; the CLI never seeds the knowledge base.
        return await work(build_services(client, settings, seed_file=None))
    finally:
        await disconnect(client, embedded)


def _user_add(settings: Settings, args: argparse.Namespace) -> int:
    name, roles = args.name, args.role
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {name}: ")
        if getpass.getpass("Again: ") != password:
            print("The passwords differ; nothing changed.", file=sys.stderr)
            return 1

    async def work(services: Services) -> int:
        try:
            await services.accounts.set_user(name, password, roles)
            await services.audit.record("cli", "user_saved", name, {"roles": list(roles)})
            if {"agent", "supervisor"} & set(roles):
                # Agents also get a routing record: their teams and how many conversations at once.
                await services.queue.upsert_agent(
                    name, args.display_name or name, args.team or [settings.handoff_team], args.capacity
                )
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"user {name} saved with roles {', '.join(roles)}")
        return 0

    return asyncio.run(_with_services(settings, work))


def _user_remove(settings: Settings, name: str) -> int:
    async def work(services: Services) -> int:
        if not await services.accounts.remove_user(name):
            print(f"error: no user {name}", file=sys.stderr)
            return 1
        await services.audit.record("cli", "user_removed", name)
        if await services.queue.agent(name) is not None:
            await services.queue.set_status(name, "offline")  # offered no more conversations
        print(f"user {name} removed; their sessions have ended")
        return 0

    return asyncio.run(_with_services(settings, work))


def _kb_calibrate(settings: Settings, locale: str) -> int:
    async def work(services: Services) -> int:
        kb = services.knowledge
        try:
            result = await kb.calibrate(locale)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        t = result.thresholds
        print(
            f"answer >= {t.answer:.4f}, suggest >= {t.suggest:.4f} on {result.questions} golden questions: "
            f"in-scope accuracy {result.in_scope_accuracy:.3f}, OOS recall {result.oos_recall}; "
            "the next publish uses them"
        )
        return 0

    return asyncio.run(_with_services(settings, work))


def _customer_erase(settings: Settings, args: argparse.Namespace) -> int:
    from bot.erasure import Eraser

    async def work(services: Services) -> int:
        try:
            erased = await Eraser(services.redis, services.keys).erase(
                profile=args.profile or "", conversation=args.conversation or ""
            )
        except LookupError:
            print("error: no such customer", file=sys.stderr)
            return 1
        await services.audit.record(args.by, "customer_erased", erased.profile, erased.summary())
        print(
            f"erased profile {erased.profile or '-'} and {len(erased.conversations)} conversation(s): "
            f"{erased.keys} keys, {erased.entries} entries, {erased.fields} fields, "
            f"{erased.members} members, {erased.cases} complaint case(s) anonymised"
        )
        return 0

    return asyncio.run(_with_services(settings, work))


def _reports_rebuild(settings: Settings) -> int:
    async def work(services: Services) -> int:
        from reports.rebuild import rebuild

        rebuilt = await rebuild(services.events)
        print(f"roll-ups rebuilt from {rebuilt} events")
        return 0

    return asyncio.run(_with_services(settings, work))


def _kb_files(settings: Settings, args: argparse.Namespace) -> int:
    from knowledge_base.formats import ImportFailed, dump_bytes, load_bytes
    from knowledge_base.live import PublishRefused

    path = Path(args.file)
    fmt = path.suffix.lstrip(".").replace("yml", "yaml")

    async def work(services: Services) -> int:
        kb = services.knowledge
        if args.kb_command == "export":
            if args.draft:
                entries = await kb.store.draft_entries()
            else:
                snapshot = await kb.store.live_snapshot()
                entries = list(snapshot.entries) if snapshot else []
            await asyncio.to_thread(path.write_bytes, dump_bytes(entries, fmt))
            print(f"wrote {len(entries)} entries to {path}")
            return 0
        try:
            entries = load_bytes(await asyncio.to_thread(path.read_bytes), fmt)
        except ImportFailed as exc:
            print("error: nothing was imported:\n  " + "\n  ".join(exc.errors), file=sys.stderr)
            return 1
        await kb.store.replace_drafts(entries)
        print(f"draft replaced with {len(entries)} entries from {path}")
        if args.publish:
            try:
                snapshot = await kb.publish(
                    args.author, args.message or f"import {path.name}", force=args.force
                )
            except PublishRefused as exc:
                for row in exc.report:
                    print(
                        f"golden: {row['text']!r} expected {row['expected']}, got {row['got']}",
                        file=sys.stderr,
                    )
                print("error: publish refused (use --force to publish anyway)", file=sys.stderr)
                return 1
            print(f"published version {snapshot.version}")
        return 0

    return asyncio.run(_with_services(settings, work))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the engine (trains first if the model is stale)")
    serve.add_argument("--port", type=int, help="override PORT")
    serve.add_argument("--no-train", action="store_true", help="fail instead of training")
    train = sub.add_parser("train", help="train the Rasa model if its inputs changed")
    train.add_argument("--force", action="store_true", help="train even if a model exists")
    user = sub.add_parser("user", help="manage staff accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create or replace a user")
    add.add_argument("name")
    add.add_argument(
        "--role", action="append", required=True, help="editor, agent, supervisor, quality or admin"
    )
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument(
        "--team", action="append", help="agent's team (repeat for several; default HANDOFF_TEAM)"
    )
    add.add_argument("--capacity", type=int, default=3, help="agent's concurrent conversations (default 3)")
    add.add_argument("--display-name", default="", help="name customers and colleagues see")
    remove = user_sub.add_parser("remove", help="delete a user; their sessions end at once")
    remove.add_argument("name")
    kb = sub.add_parser("kb", help="knowledge-base maintenance")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    cal = kb_sub.add_parser("calibrate", help="choose thresholds on the golden questions")
    cal.add_argument("--locale", default="zh-CN", choices=["zh-CN", "en"])
    default_file = str(PROJECT_ROOT / "knowledge_base" / "data" / "faq.yml")
    export = kb_sub.add_parser("export", help="write the live version (or the draft) to a file")
    export.add_argument("--file", default=default_file, help=".yml, .jsonl, .csv or .xlsx")
    export.add_argument("--draft", action="store_true", help="export the draft instead of the live version")
    imp = kb_sub.add_parser("import", help="replace the draft with a file's entries (all or nothing)")
    imp.add_argument("--file", default=default_file, help=".yml, .jsonl, .csv or .xlsx")
    imp.add_argument("--publish", action="store_true", help="publish the imported draft")
    imp.add_argument("--message", default="", help="version message when publishing")
    imp.add_argument("--author", default="cli", help="version author when publishing")
    imp.add_argument("--force", action="store_true", help="publish even if golden questions break")
    customer = sub.add_parser("customer", help="customers' personal data")
    customer_sub = customer.add_subparsers(dest="customer_command", required=True)
    erase = customer_sub.add_parser("erase", help="erase a customer everywhere (the aggregates stay)")
    who = erase.add_mutually_exclusive_group(required=True)
    who.add_argument("--profile", help="the customer's profile id")
    who.add_argument("--conversation", help="one of their conversations, e.g. telegram:42")
    erase.add_argument("--by", default="cli", help="who asked (for the audit log)")
    reports = sub.add_parser("reports", help="service events and their roll-ups")
    reports_sub = reports.add_subparsers(dest="reports_command", required=True)
    reports_sub.add_parser("rebuild", help="recompute every roll-up from the events stream")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command named in ``argv``."""
    parser = _parser()
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    if getattr(args, "port", None):
        settings = replace(settings, port=args.port)
    logging_setup.configure(settings.log_format, settings.log_level)

    if args.command == "serve":
        return _serve(settings, train=not args.no_train)
    if args.command == "train":
        from bot.dialogue.training import ensure_model

        print(ensure_model(settings.model_dir, force=args.force))
        return 0
    if args.command == "user" and args.user_command == "remove":
        return _user_remove(settings, args.name)
    if args.command == "user":
        return _user_add(settings, args)
    if args.command == "kb" and args.kb_command == "calibrate":
        return _kb_calibrate(settings, args.locale)
    if args.command == "kb":
        return _kb_files(settings, args)
    if args.command == "customer":
        return _customer_erase(settings, args)
    if args.command == "reports":
        return _reports_rebuild(settings)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
