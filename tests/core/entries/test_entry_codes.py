"""What a texted code costs and whose budget it spends: a code request pays a proof of work first (none, a wrong
one, another contest's or a spent one texts nobody); each contest's entry codes have their own day's budget, its
organiser's figure; entry codes spent, even for an organiser's wallet number, leave the payout code as it was. A
number is read as the contest's country writes it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.core.phone_texts import TEXT_CODE_PASS
from gateway.db.engine import Sessions
from gateway.jobs.queues import job_queue, sync_redis
from gateway.kit import code_work
from gateway.kit.keys import QUEUE
from tests.admin import entries_data
from tests.admin.accounts import browser_sign_in, csrf_token, make_account
from tests.admin.entries_data import give_contest
from tests.core.entries.test_entering import open_call
from tests.factories import make_contest
from tests.media.code_requests import ask_code, challenge_of, paid, solve
from tests.media.conftest import Entering
from tests.servers import inside_one_window

WALLET = "+237670000123"


def texts_queued(entering: Entering) -> list[str]:
    """The numbers the worker has been asked to text a code to."""
    queue = job_queue(sync_redis(entering.settings.redis_url or ""))
    return [job.args[1] for job in queue.get_jobs() if job.args[:1] == [TEXT_CODE_PASS]]


async def refusal(response: Any, status: int) -> str:
    assert response.status == status, await response.text()
    return str((await response.json())["error"]["code"])


async def test_a_code_request_without_its_work_gets_a_clear_refusal_and_texts_nobody(
        entering: Entering, sessions: Sessions) -> None:
    contest, other = await open_call(sessions), await open_call(sessions)
    url = f"/api/v1/contests/{contest.slug}/entries/code"
    phone = "+237670003301"
    assert await refusal(await entering.web.post(url, json={"msisdn": phone}), 403) == "challenge_required"
    challenge = await challenge_of(entering.web, contest.slug)
    assert challenge["bits"] == 10 and challenge["algorithm"] == "sha256"
    wrong = str(int(solve(challenge["salt"], challenge["bits"])) + 1)
    while code_work.solves(challenge["salt"], wrong, challenge["bits"]):  # a nonce that does not solve it
        wrong = str(int(wrong) + 1)
    unsolved = {"msisdn": phone, "challenge": challenge["challenge"], "nonce": wrong}
    assert await refusal(await entering.web.post(url, json=unsolved), 403) == "challenge_invalid"
    elsewhere = await paid(entering.web, other.slug)  # solved, but for another contest's codes
    assert await refusal(await entering.web.post(url, json={"msisdn": phone, **elsewhere}), 403) == "challenge_invalid"
    harder = challenge["challenge"].replace(".10.", ".11.", 1)  # its figures are signed
    assert await refusal(await entering.web.post(url, json={**unsolved, "challenge": harder}), 403) == \
        "challenge_invalid"
    assert texts_queued(entering) == []

    work = await paid(entering.web, contest.slug)
    assert (await entering.web.post(url, json={"msisdn": phone, **work})).status == 202
    again = await entering.web.post(url, json={"msisdn": "+237670003302", **work})
    assert await refusal(again, 403) == "challenge_spent"  # one request per challenge
    assert texts_queued(entering) == [phone]


def test_a_challenge_expires_after_ten_minutes_and_binds_its_contest() -> None:
    now = datetime.now(UTC)
    work = code_work.issue("k" * 40, "entry:gala", 8, now)
    nonce = solve(work.salt, work.bits)
    salt, left = code_work.check("k" * 40, "entry:gala", work.token, nonce, 8, now + timedelta(minutes=9))
    assert salt == work.salt and left == 60
    with pytest.raises(code_work.WorkRefused) as expired:
        code_work.check("k" * 40, "entry:gala", work.token, nonce, 8, now + timedelta(minutes=10))
    assert expired.value.code == "challenge_expired"
    with pytest.raises(code_work.WorkRefused):  # the base raised since: easier work is not taken
        code_work.check("k" * 40, "entry:gala", work.token, nonce, 9, now)
    with pytest.raises(code_work.WorkRefused):  # another service's key
        code_work.check("j" * 40, "entry:gala", work.token, nonce, 8, now)


def test_the_work_grows_as_a_days_budget_runs_low() -> None:
    assert [code_work.bits_for(18, spent, 200) for spent in (0, 99, 100, 149, 150, 400)] == [18, 18, 19, 19, 20, 20]


async def test_a_contests_own_budget_stops_its_codes_and_not_another_contests(
        entering: Entering, sessions: Sessions) -> None:
    small, other = await open_call(sessions, codes_per_day=2), await open_call(sessions)
    await inside_one_window()  # the day's budget counts by day, whose turn is a minute's
    for n, address in ((1, "41.202.10.1"), (2, "41.202.10.2")):
        answer = await ask_code(entering.web, small.slug, f"+23767000440{n}", **{"X-Forwarded-For": address})
        assert answer.status == 202, await answer.text()
    spent = await ask_code(entering.web, small.slug, "+237670004403", **{"X-Forwarded-For": "41.202.10.3"})
    assert await refusal(spent, 429) == "rate_limited"
    assert (await challenge_of(entering.web, small.slug))["bits"] == 12  # what is left costs more
    elsewhere = await ask_code(entering.web, other.slug, "+237670004403", **{"X-Forwarded-For": "41.202.10.3"})
    assert elsewhere.status == 202, await elsewhere.text()
    assert texts_queued(entering) == ["+237670004401", "+237670004402", "+237670004403"]


async def test_entry_codes_asked_for_a_wallet_number_leave_its_payout_code(
        entering: Entering, sessions: Sessions) -> None:
    contest = await open_call(sessions, codes_per_day=1)
    await inside_one_window()  # the day's budget counts by day, whose turn is a minute's
    assert (await ask_code(entering.web, contest.slug, WALLET)).status == 202  # someone else, for that number
    assert await refusal(await ask_code(entering.web, contest.slug, "+237670000124"), 429) == "rate_limited"
    organiser = await make_account(sessions, "organiser")
    await give_contest(sessions, contest.id, organiser.id)
    await browser_sign_in(entering.web, organiser)
    base = f"/admin/contests/{contest.id}/settlement"
    token = csrf_token(await (await entering.web.get(base)).text())
    sent = await entering.web.post(f"{base}/payout-account/code", data={"csrf_token": token, "kind": "mtn",
                                                                       "msisdn": WALLET})
    assert sent.status == 200 and f"A code was texted to {WALLET}." in await sent.text()
    [*_, (number, text)] = [job.args[1:3] for job in entering.web.app[QUEUE].get_jobs()
                            if job.args[:1] == [TEXT_CODE_PASS]]
    assert number == WALLET and re.search(r"\b\d{6}\b is the code to receive payouts", text)


async def test_a_number_typed_as_the_contests_country_writes_it_is_texted_its_code_and_proven(
        entering: Entering, sessions: Sessions) -> None:
    """In a Senegalese contest, `77 123 45 67` is a Senegalese mobile, not a Cameroonian number refused."""
    contest = await make_contest(sessions, candidates=3, currency="XOF", country="SN")
    await entries_data.open_call(sessions, contest.id)
    asked = await ask_code(entering.web, contest.slug, "77 123 45 67")
    assert asked.status == 202, await asked.text()
    assert (await asked.json())["sent_to"] == "+221771234567"
    [text] = [job.args[2] for job in job_queue(sync_redis(entering.settings.redis_url or "")).get_jobs()
              if job.args[:2] == [TEXT_CODE_PASS, "+221771234567"]]
    code = re.search(r"\b(\d{6})\b", text)
    assert code is not None
    proven = await entering.web.post(f"/api/v1/contests/{contest.slug}/entries/proof",
                                     json={"msisdn": "77 123 45 67", "code": code.group(1)})
    assert proven.status == 200, await proven.text()
    assert (await proven.json())["msisdn"] == "+221771234567"


async def test_the_entry_form_shows_a_number_as_the_contests_country_writes_it(
        entering: Entering, sessions: Sessions) -> None:
    senegalese = await make_contest(sessions, candidates=3, currency="XOF", country="SN")
    await entries_data.open_call(sessions, senegalese.id)
    cameroonian = await open_call(sessions)
    for contest, example in ((senegalese, "70 123 45 67"), (cameroonian, "6 71 23 45 67")):
        html = await (await entering.web.get(f"/c/{contest.slug}/enter?lang=en")).text()
        assert f'required placeholder="{example}" aria-describedby="msisdn-hint">' in html and "+237 6" not in html


async def test_a_kenyan_candidate_is_texted_an_entry_code_by_default(entering: Entering, sessions: Sessions) -> None:
    """Kenya is one of the service's markets (M-Pesa, Airtel): its mobiles get codes with no setting changed."""
    contest = await make_contest(sessions, candidates=3, currency="KES", price_per_vote=1000, providers=["mpesa"],
                                 country="KE", time_zone="Africa/Nairobi")
    await entries_data.open_call(sessions, contest.id)
    asked = await ask_code(entering.web, contest.slug, "0712 000 102")
    assert asked.status == 202, await asked.text()
    assert (await asked.json())["sent_to"] == "+254712000102"
