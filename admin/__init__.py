"""The organisers' area: authentication, dashboard, exports and the audit log.

`setup` is the area's one entry point for the assembly: it wires the area's own parts, its pages (templates), its
JSON API and API document, the money pages, the dashboards, the control room (its shared figures and stream) and
the exports. Its modules are imported when the area is set up, not with the package: a worker or a CLI command that
takes one piece of it (accounts) does not load the web area's templates and route tables."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    from admin import (
        api,
        candidate_media_api,
        control,
        dashboard,
        entries_api,
        exports,
        money_api,
        openapi,
        pages,
        payouts,
        results,
        settlements,
    )
    from admin import jury as jury_api
    from admin.pages import jury as jury_pages
    from admin.pages import rounds as round_pages
    from admin.settings import AdminSettings
    from admin.totp_keys import TOTP_KEYS, totp_keys
    from admin.totp_secrets import sealing_ctx
    from gateway.kit.keys import settings_of

    app[TOTP_KEYS] = totp_keys(settings_of(app, AdminSettings))  # production has checked them (assembly.settings)
    app.cleanup_ctx.append(sealing_ctx)  # the secrets a release before kept in clear, sealed at start
    pages.setup(app)  # templates first: every later page renders through them
    app.add_routes(api.routes)  # the JSON API, then its calls for entries, then its document of them both
    app.add_routes(entries_api.routes)
    app.add_routes(candidate_media_api.routes)  # an organiser's own clip or photo for a candidate
    openapi.setup(app)
    app.add_routes(results.routes)  # the results key and signed sheets
    app.add_routes(settlements.routes)  # a contest's settlement and its signed statements
    app.add_routes(payouts.routes)  # its payout account, payouts requested and approved
    app.add_routes(money_api.routes)  # the same in the JSON API, with the refunds its providers send
    app.add_routes(dashboard.routes)  # dashboards and their figures
    control.setup(app)  # the whole service's control room: its shared figures and their stream
    app.add_routes(exports.routes)
    app.add_routes(jury_pages.routes)  # a juror's scores, the organiser's formula, seats and reveal
    app.add_routes(jury_api.routes)  # the same in the JSON API
    app.add_routes(round_pages.routes)  # a contest's rounds: planned, their boards, who went through
