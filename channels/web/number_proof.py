"""A number proven by a code texted to it, as the web asks it (an entry's candidate, a free vote's voter): the work a
code request pays first, the code sent, the proof given back (gateway.kit.phone_proof and code_work keep them).

Each use names its `purpose` (the proofs of one are no proof for another), the `scope` its codes a day are counted in
and how many it allows, and the text the code goes out in."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from channels.web.schemas import CodeRequest
from gateway.core.phone_texts import TEXT_CODE_PASS
from gateway.core.texts import Lang
from gateway.core.worker_passes import enqueue_pass
from gateway.kit import code_work, phone_proof
from gateway.kit.keys import QUEUE, REDIS, SETTINGS
from gateway.kit.phone_proof import CODE_SECONDS
from gateway.kit.throttle import client_address


async def challenge(request: web.Request, purpose: str, slug: str, scope: str, per_day: int) -> web.Response:
    """The work a code request pays first: find a nonce (decimal digits) such that SHA-256 of "<salt>:<nonce>"
    begins with `bits` zero bits, then send `challenge` and `nonce` with the code request, once, within ten
    minutes. The more codes the scope sent today, the more work."""
    settings = request.app[SETTINGS]
    spent = await phone_proof.spent_today(request.app[REDIS], purpose, scope)
    work = code_work.issue(settings.secret_key.get_secret_value(), f"{purpose}:{slug}",
                           code_work.bits_for(settings.code_work_bits, spent, per_day), datetime.now(UTC))
    return web.json_response({"challenge": work.token, "salt": work.salt, "bits": work.bits, "algorithm": "sha256",
                              "expires_at": datetime.fromtimestamp(work.expires_at, UTC).isoformat()},
                             headers={"Cache-Control": "no-store"})


async def send_code(request: web.Request, asked: CodeRequest, msisdn: str, purpose: str, slug: str, scope: str,
                    per_day: int, text: Callable[[Lang, str], str]) -> web.Response:
    """The work checked and spent, a code made for the number and texted to it (`text`: its words in a language);
    202 once the text is queued."""
    settings = request.app[SETTINGS]
    salt, left = code_work.check(settings.secret_key.get_secret_value(), f"{purpose}:{slug}", asked.challenge,
                                 asked.nonce, settings.code_work_bits, datetime.now(UTC))
    await code_work.spend(request.app[REDIS], salt, left)
    code = await phone_proof.new_code(request.app[REDIS], msisdn, purpose, client_address(request),
                                      per_day=per_day, scope=scope)
    lang = Lang.parse(request.query.get("lang")) or Lang.FR
    await asyncio.to_thread(enqueue_pass, request.app[QUEUE], TEXT_CODE_PASS, msisdn, text(lang, code),
                            str(uuid.uuid4()), job_timeout=120, result_ttl=60, failure_ttl=CODE_SECONDS)
    return web.json_response({"sent_to": msisdn}, status=202)


async def proof_of(request: web.Request, msisdn: str, purpose: str, code: str) -> str:
    """The signed proof that `msisdn` got the code, or the refusal of a wrong or old code."""
    return await phone_proof.prove(request.app[REDIS], request.app[SETTINGS].secret_key.get_secret_value(),
                                   msisdn, purpose, code, datetime.now(UTC))
