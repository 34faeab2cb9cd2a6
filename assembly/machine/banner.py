"""What `gateway run` prints once everything is up: where each page is (both demo contests, their overlay, the admin
area and how to make its first account), then each local stand-in's line. Built by `banner_lines`, a plain function
of the settings, so a test reads exactly what a developer will."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assembly.machine import fanout_server
from assembly.machine.demo import KENYA_DEMO_CHANNELS, KENYA_DEMO_PAYBILL, KENYA_DEMO_USSD_CODE
from assembly.resources.media import cloudinary_stand_in_needed, media_address
from assembly.settings import Settings
from channels.sms.contest_settings import DEMO_KEYWORD, DEMO_SHORT_CODE
from channels.ussd.contest_settings import DEMO_SERVICE_CODE
from gateway.db.seed import DEMO_SLUG, KENYA_DEMO_SLUG
from gateway.kit.stand_ins import StandIn


def gateway_command() -> str:
    """The `gateway` beside this Python (`.venv/bin/gateway` from the checkout): runs from a shell without the venv."""
    command = Path(sys.executable).with_name("gateway")
    with contextlib.suppress(ValueError):
        return str(command.relative_to(Path.cwd()))
    return str(command)


def media_server_needed(settings: Settings) -> bool:
    """The local storage's server runs here unless its URL names another host (a deployment's own)."""
    return settings.media_storage == "local" and media_address(settings)[0] in ("127.0.0.1", "localhost")


def banner_lines(settings: Settings, stand_ins: Sequence[StandIn[Any]]) -> list[str]:
    """The URLs block: the pages a person opens first, then the machine's addresses, then the stand-ins'."""
    base = f"http://{settings.gateway_host}:{settings.gateway_port}"
    kenyan_sms = KENYA_DEMO_CHANNELS
    lines = [
        "",
        "Ballot is running:",
        f"  demo contest  {base}/c/{DEMO_SLUG}  (Cameroon, FCFA: USSD {DEMO_SERVICE_CODE}, SMS "
        f"{DEMO_KEYWORD} 07 5 to {DEMO_SHORT_CODE}; a candidate's card starts a vote)",
        f"  Kenya demo    {base}/c/{KENYA_DEMO_SLUG}  (Ksh, M-Pesa: USSD {KENYA_DEMO_USSD_CODE}, SMS "
        f"{kenyan_sms['sms_keyword']} 03 3 to {kenyan_sms['sms_short_code']}, Paybill {KENYA_DEMO_PAYBILL} account 03)",
        f"  TV overlay    {base}/c/{DEMO_SLUG}/overlay  (?layout=board, strip or corner; shown or hidden from "
        "the control room)",
        f"  admin area    {base}/admin  (first account: {gateway_command()} admin create --email you@example.org "
        "--role owner)",
        f"  control room  {base}/admin/control",
        f"  public API    {base}/api/v1/contests",
        f"  readiness     {base}/readyz",
        f"  metrics       {base}/metrics",
    ]
    lines += [stand_in.announce(settings) for stand_in in stand_ins]
    if fanout_server.runs_here(settings.board_fanout_url):
        lines.append(f"  live boards   http://{fanout_server.DEFAULT_LISTEN}/c/{DEMO_SLUG}  (the site through nginx + "
                     "Nchan, its boards' streams from Nchan)")
    if cloudinary_stand_in_needed(settings):
        lines.append(f"  cloudinary    {settings.cloudinary_stand_in_url}/  (stand-in of Cloudinary's upload API; "
                     "renditions made here)")
    if media_server_needed(settings):
        lines.append(f"  media         {settings.media_upload_url}/  (candidates' uploads and clips; enter at "
                     f"{base}/c/{DEMO_SLUG}/enter)")
    if stand_ins:
        lines.append("  (the stand-ins log warnings only: STAND_IN_LOG_LEVEL=INFO shows their every request)")
    lines += ["Press Ctrl-C to stop everything.", ""]
    return lines
