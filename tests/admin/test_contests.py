"""Contests and candidates from the admin area: what each role may do, CSRF, the checks on every
change, and a contest set up from nothing that USSD and the web then take votes for."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from channels.ussd.dialled import contest_ids_dialled
from gateway.core.service import VOTE_SERVICE
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Candidate, Contest, ContestStatus
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, contest_fields, make_account
from tests.factories import make_contest


async def count(sessions: Sessions, model: Any, *where: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def new_contest(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/admin/contests", json=contest_fields(**fields), headers=headers)
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_an_organiser_sets_up_and_opens_a_contest_that_ussd_and_the_web_take_votes_for(
        client: TestClient, sessions: Sessions) -> None:
    organiser = bearer(await api_tokens(client, await make_account(sessions, "organiser")))
    contest = await new_contest(client, organiser)
    assert contest["status"] == "draft"
    assert (await client.get("/api/v1/contests/gala-2027")).status == 404  # a draft is nobody's business
    refused = await client.post(f"/api/v1/admin/contests/{contest['id']}/open", headers=organiser)
    assert refused.status == 409 and (await refused.json())["error"]["code"] == "no_candidates"

    added = await client.post(f"/api/v1/admin/contests/{contest['id']}/candidates", json={"name": "Awa"},
                              headers=organiser)
    assert added.status == 201 and (await added.json())["code"] == "01"
    imported = await client.post(f"/api/v1/admin/contests/{contest['id']}/candidates/import", headers=organiser,
                                 json={"csv": "name,code,bio\nBen,,singer\nChloe,07,dancer\n"})
    assert imported.status == 201
    assert [c["code"] for c in (await imported.json())["imported"]] == ["02", "07"]
    opened = await client.post(f"/api/v1/admin/contests/{contest['id']}/open", headers=organiser)
    assert opened.status == 200 and (await opened.json())["status"] == "open"

    public = await client.get("/api/v1/contests/gala-2027")
    assert public.status == 200
    vote = await client.post("/api/v1/contests/gala-2027/votes", json={
        "candidate": "07", "quantity": 2, "provider": "mtn", "msisdn": "+237670000001"})
    assert vote.status == 201, await vote.text()
    assert (await vote.json())["order"]["amount"] == 200
    menus = await client.app[VOTE_SERVICE].contests_with_menus(contest_ids_dialled("*384*777#"))
    assert [m.slug for m in menus] == ["gala-2027"]
    ussd = await client.post("/ussd/africastalking", data={
        "sessionId": "ATUid_admin", "serviceCode": "*384*777#", "phoneNumber": "+237670000002",
        "networkCode": "62401", "text": ""})
    assert (await ussd.text()).startswith("CON Gala 2027")

    audit = await client.get(f"/api/v1/admin/contests/{contest['id']}", headers=organiser)
    assert [c["code"] for c in (await audit.json())["candidates"]] == ["01", "02", "07"]
    async with sessions() as session:
        actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert actions[2:] == ["contest.create", "candidate.create", "candidate.import", "contest.open"]


async def test_a_contest_s_menus_may_speak_swahili_though_its_admin_pages_do_not(client: TestClient,
                                                                                  sessions: Sessions) -> None:
    """Swahili is a voter language: an organiser may make it the contest's default (USSD opens in it); the
    admin area itself stays French or English, whatever the browser or ?lang= asks."""
    owner = await make_account(sessions, "owner")
    headers = bearer(await api_tokens(client, owner))
    contest = await new_contest(client, headers, default_language="sw")
    await client.post(f"/api/v1/admin/contests/{contest['id']}/candidates", json={"name": "Awa"}, headers=headers)
    assert (await client.post(f"/api/v1/admin/contests/{contest['id']}/open", headers=headers)).status == 200
    ussd = await client.post("/ussd/africastalking", data={
        "sessionId": "ATUid_sw", "serviceCode": "*384*777#", "phoneNumber": "+237670000003",
        "networkCode": "62401", "text": ""})
    assert await ussd.text() == "CON Gala 2027\n1 Piga kura\n2 Top 5\n3 Kura zangu\n4 Lugha/Language/Langue"

    await browser_sign_in(client, owner)
    form = await client.get(f"/admin/contests/{contest['id']}/edit", params={"lang": "sw"},
                            headers={"Accept-Language": "sw"})
    html = await form.text()
    assert form.status == 200 and '<html lang="en"' in html and "Language of the menus" in html
    assert '<option value="sw" lang="sw" selected>Kiswahili</option>' in html


async def test_a_ussd_code_or_sms_keyword_of_another_open_contest_is_refused(client: TestClient,
                                                                              sessions: Sessions) -> None:
    await make_contest(sessions, ussd_service_codes=["*384*777#"], sms_short_code="20999", sms_keyword="VOTE")
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    contest = await new_contest(client, owner)
    await client.post(f"/api/v1/admin/contests/{contest['id']}/candidates", json={"name": "Awa"}, headers=owner)
    refused = await client.post(f"/api/v1/admin/contests/{contest['id']}/open", headers=owner)
    assert refused.status == 409 and (await refused.json())["error"]["code"] == "ussd_code_in_use"

    edited = await client.put(f"/api/v1/admin/contests/{contest['id']}", headers=owner, json=contest_fields(
        ussd_service_codes=["*384*778#"], sms_short_code="20999", sms_keyword="vote"))
    assert edited.status == 200
    refused = await client.post(f"/api/v1/admin/contests/{contest['id']}/open", headers=owner)
    assert (await refused.json())["error"]["code"] == "sms_keyword_in_use"
    assert await count(sessions, Contest, Contest.status == ContestStatus.OPEN) == 1


@pytest.mark.parametrize(("fields", "field"), [
    ({"slug": "Not A Slug"}, "slug"), ({"currency": "ZZZ"}, "currency"), ({"price_per_vote": 0}, "price_per_vote"),
    ({"providers": ["paypal"]}, "providers"), ({"ussd_service_codes": ["384"]}, "ussd_service_codes"),
    ({"closes_at": "2020-01-01T00:00:00+00:00"}, "closes_at"), ({"board": "sideways"}, "board"),
    ({"default_language": "de"}, "default_language"),
])
async def test_a_bad_field_is_named_and_nothing_is_created(client: TestClient, sessions: Sessions,
                                                           fields: dict[str, Any], field: str) -> None:
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    response = await client.post("/api/v1/admin/contests", json=contest_fields(**fields), headers=owner)
    assert response.status == 400 and (await response.json())["error"]["field"] == field
    assert await count(sessions, Contest) == 0


async def test_a_csv_with_a_bad_row_imports_nothing_and_names_the_line(client: TestClient, sessions: Sessions
                                                                      ) -> None:
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    contest = await new_contest(client, owner)
    csv = "name,code\nAwa,01\nBen,x9\nChloe,01\n,\n"
    response = await client.post(f"/api/v1/admin/contests/{contest['id']}/candidates/import", json={"csv": csv},
                                 headers=owner)
    message = (await response.json())["error"]["message"]
    assert response.status == 400 and "line 3" in message and "line 4" in message and "line 5" in message
    assert "line 2" not in message
    assert await count(sessions, Candidate) == 0
    assert await count(sessions, AuditEntry, AuditEntry.action == "candidate.import") == 0


async def test_each_role_may_do_what_it_is_for_and_nothing_else(client: TestClient, sessions: Sessions) -> None:
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    organiser = bearer(await api_tokens(client, await make_account(sessions, "organiser")))
    other = bearer(await api_tokens(client, await make_account(sessions, "organiser", "other@example.com")))
    auditor = bearer(await api_tokens(client, await make_account(sessions, "auditor")))
    support = bearer(await api_tokens(client, await make_account(sessions, "support")))
    mine = await new_contest(client, organiser)
    theirs = await new_contest(client, owner, slug="owners-show", ussd_service_codes=[])

    assert (await client.get("/api/v1/admin/audit", headers=owner)).status == 200
    assert (await client.get("/api/v1/admin/contests", headers=auditor)).status == 200
    assert (await client.get("/api/v1/admin/audit", headers=auditor)).status == 200
    listed = await (await client.get("/api/v1/admin/contests", headers=other)).json()
    assert listed["contests"] == []  # an organiser sees only their own

    before = await count(sessions, AuditEntry)
    for headers, method, path, body in [
        (auditor, "POST", "/api/v1/admin/contests", contest_fields(slug="by-auditor")),
        (support, "POST", "/api/v1/admin/contests", contest_fields(slug="by-support")),
        (support, "GET", "/api/v1/admin/contests", None),
        (organiser, "GET", "/api/v1/admin/audit", None),
        (auditor, "POST", f"/api/v1/admin/contests/{mine['id']}/close", None),
    ]:
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status == 403, (path, await response.text())
    for path in (f"/api/v1/admin/contests/{theirs['id']}/open", f"/api/v1/admin/contests/{theirs['id']}"):
        response = await client.request("POST" if path.endswith("open") else "GET", path, headers=organiser)
        assert response.status == 404  # another organiser's contest is not theirs to see or change
    assert await count(sessions, AuditEntry) == before
    assert await count(sessions, Contest) == 2
    async with sessions() as session:
        statuses = set((await session.scalars(select(Contest.status))).all())
    assert statuses == {ContestStatus.DRAFT}


async def test_forms_need_their_csrf_token(client: TestClient, sessions: Sessions) -> None:
    token = await browser_sign_in(client, await make_account(sessions, "organiser"))
    fields = {k: (v if not isinstance(v, list) else v[0]) for k, v in contest_fields().items()}
    forged = await client.post("/admin/contests/new", data=fields, allow_redirects=False)
    assert forged.status == 403
    wrong = await client.post("/admin/contests/new", data={**fields, "csrf_token": "0" * 64}, allow_redirects=False)
    assert wrong.status == 403
    assert await count(sessions, Contest) == 0
    made = await client.post("/admin/contests/new", data={**fields, "csrf_token": token}, allow_redirects=False)
    assert made.status == 303, await made.text()
    page = await client.get(made.headers["Location"])
    assert page.status == 200 and "Gala 2027" in await page.text()
    assert await count(sessions, Contest) == 1


async def test_an_authorization_header_that_is_no_bearer_token_still_needs_the_csrf_token(
        client: TestClient, sessions: Sessions) -> None:
    token = await browser_sign_in(client, await make_account(sessions, "organiser"))  # the cookies sign in
    fields = {k: (v if not isinstance(v, list) else v[0]) for k, v in contest_fields().items()}
    for header in ("Basic eDp4", "Bearer", "Digest x", "Bearer not-a-token"):
        api = await client.post("/api/v1/admin/contests", json=contest_fields(), headers={"Authorization": header})
        assert api.status in (401, 403), header
        page = await client.post("/admin/contests/new", data=fields, headers={"Authorization": header},
                                 allow_redirects=False)
        assert page.status == 403 or page.headers["Location"] == "/admin/signin", header
    assert await count(sessions, Contest) == 0
    made = await client.post("/admin/contests/new", data={**fields, "csrf_token": token},
                             headers={"Authorization": "Basic eDp4"}, allow_redirects=False)
    assert made.status == 303 and await count(sessions, Contest) == 1


async def test_an_sms_keyword_starts_with_a_letter_and_is_not_another_open_ones_plus_digits(
        client: TestClient, sessions: Sessions) -> None:
    """Digits are welcome in a keyword (the SMS parser reads STAR5 whole), but not first, where a voter's
    text names a candidate; and STAR beside STAR5 on one short code would make `STAR57` mean two votes."""
    await make_contest(sessions, ussd_service_codes=[], sms_short_code="20999", sms_keyword="STAR")
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    refused = await client.post("/api/v1/admin/contests", json=contest_fields(sms_keyword="5STAR"), headers=owner)
    assert refused.status == 400 and (await refused.json())["error"]["field"] == "sms_keyword"
    contest = await new_contest(client, owner, sms_short_code="20999", sms_keyword="star5")
    assert contest["sms_keyword"] == "STAR5"
    await client.post(f"/api/v1/admin/contests/{contest['id']}/candidates", json={"name": "Awa"}, headers=owner)
    ambiguous = await client.post(f"/api/v1/admin/contests/{contest['id']}/open", headers=owner)
    assert ambiguous.status == 409 and (await ambiguous.json())["error"]["code"] == "sms_keyword_ambiguous"
    elsewhere = await client.put(f"/api/v1/admin/contests/{contest['id']}", headers=owner,
                                 json=contest_fields(sms_short_code="20888", sms_keyword="STAR5"))
    assert elsewhere.status == 200, await elsewhere.text()
    opened = await client.post(f"/api/v1/admin/contests/{contest['id']}/open", headers=owner)
    assert opened.status == 200, await opened.text()
