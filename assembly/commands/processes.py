"""`gateway run | web | worker`: the service's processes."""

from __future__ import annotations

import argparse
from contextlib import ExitStack

from assembly.commands.services import Subcommands, with_services
from assembly.logs import json_wanted
from assembly.settings import Settings
from gateway.jobs.queues import MEDIA_QUEUE, QUEUE_NAMES
from gateway.kit.collector_held import collector_held


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    with collector_held():
        from assembly.machine.supervisor import run_everything

    return run_everything(settings)


def cmd_stand_ins(settings: Settings, args: argparse.Namespace) -> int:
    with collector_held():
        from assembly.machine.supervisor import run_stand_ins

    return run_stand_ins(settings)


def cmd_web(settings: Settings, args: argparse.Namespace) -> int:
    with collector_held():
        import uvloop
        from aiohttp import web

        from assembly.web.app import create_app, freeze_startup_objects, heartbeat_from_now, keep_built
        from assembly.web.keys import METRICS
        from gateway.kit.keys import KEEP_BUILT

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        app = create_app(settings)
        # Once every context has started (pools, clients, caches), not before: those live for the whole process.
        app.on_startup.extend([freeze_startup_objects, heartbeat_from_now])
        app[KEEP_BUILT] = lambda: keep_built(app)  # e.g. the Telegram bot's types, built at its first update
        loop = uvloop.new_event_loop()
        loop.set_task_factory(app[METRICS].cpu.task_factory)  # background tasks' CPU by part, as requests'
        web.run_app(app, host=args.host or settings.gateway_host, port=args.port or settings.gateway_port,
                    reuse_port=True, print=None, access_log=None, handle_signals=True, loop=loop)
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    with collector_held():
        from assembly.machine.priority import at_least_as_nice
        from assembly.worker.rq_worker import run_worker

    with ExitStack() as stack:
        settings = with_services(settings, stack)  # embedded servers, if started here, keep their own priority
        at_least_as_nice(settings.gateway_worker_niceness)
        run_worker(settings.redis_url or "", (settings.log_level, json_wanted(settings)), liveness=settings,
                   with_cron=not args.no_cron, burst=args.burst,
                   queue_names=tuple(args.queue) if args.queue else QUEUE_NAMES)
    return 0


def add(sub: Subcommands) -> None:
    sub.add_parser("run", help="everything: embedded servers, migrations, demo, web, worker").set_defaults(
        func=cmd_run, serves=True)
    sub.add_parser("stand-ins", help="only the local stand-ins of outside services (payment sandbox, AT, Bot API, "
                   "media server), for several `gateway run` hosts on one machine").set_defaults(func=cmd_stand_ins,
                                                                                                 serves=True)
    web_cmd = sub.add_parser("web", help="the aiohttp web process")
    web_cmd.add_argument("--host")
    web_cmd.add_argument("--port", type=int)
    web_cmd.set_defaults(func=cmd_web, serves=True)
    worker_cmd = sub.add_parser("worker", help="the RQ worker and its scheduler")
    worker_cmd.add_argument("--burst", action="store_true", help="work until the queues are empty, then exit")
    worker_cmd.add_argument("--no-cron", action="store_true", help="do not run the periodic jobs")
    worker_cmd.add_argument("--queue", action="append", choices=(*QUEUE_NAMES, MEDIA_QUEUE),
                            help="work this queue (repeatable; default: every queue but media)")
    worker_cmd.set_defaults(func=cmd_worker, serves=True)
