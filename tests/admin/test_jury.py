"""A jury and the public together: the organiser sets the formula before opening, seats jurors, sees how many have
scored and never a point until the reveal; a juror scores their own candidates through the admin API, sees nobody
else's points and no order, and scores no more once revealed; the reveal shows the formula and each part on the public
board and in the signed results sheet, which verifies."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from gateway.core.orders import counting
from gateway.core.results import signing
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Contest, ContestStatus
from tests.admin.accounts import PASSWORD, api_tokens, bearer, browser_sign_in, csrf_token, fresh_code, make_account
from tests.admin.entries_data import give_contest
from tests.admin.test_french_admin import english_in, visible_text
from tests.factories import RULES_OFF, make_contest, place

API = "/api/v1/admin"


async def vote(sessions: Sessions, contest: Contest, code: str, quantity: int) -> None:
    order = await place(sessions, contest, code, quantity=quantity)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, f"T-{code}",
                                   provider=order.provider)


async def json_of(response: Any, status: int) -> Any:
    assert response.status == status, await response.text()
    return await response.json()


async def board_when(client: TestClient, slug: str, ready: Any, timeout: float = 10.0) -> dict[str, Any]:
    """The public board once `ready(board)` holds (a web process trusts its copy of a contest for a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        board: dict[str, Any] = await json_of(await client.get(f"/api/v1/contests/{slug}/leaderboard"), 200)
        if ready(board) or time.monotonic() > deadline:
            return board
        await asyncio.sleep(0.1)


async def test_jurors_score_sealed_and_the_reveal_shows_each_part_on_the_board_and_the_signed_sheet(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=2, status=ContestStatus.DRAFT, fraud_rules=RULES_OFF)
    organiser = await make_account(sessions, "organiser")
    await give_contest(sessions, contest.id, organiser.id)
    boss = bearer(await api_tokens(client, organiser))
    jury_url = f"{API}/contests/{contest.id}/jury"

    # Before opening: half the public's share of votes, half the jury's share of points, 0 to 10 points.
    set_up = await json_of(await client.put(f"{jury_url}/formula", headers=boss, json={
        "public_weight_pct": 50, "min_points": 0, "max_points": 10}), 200)
    assert set_up["formula"] == {"public_weight_pct": 50, "jury_weight_pct": 50} and set_up["formula_editable"]
    first, second = (await make_account(sessions, "jury", "ada@example.com"),
                     await make_account(sessions, "jury", "ben@example.com"))
    for juror in (first, second):
        await json_of(await client.post(f"{jury_url}/jurors", headers=boss, json={"email": juror.email}), 201)
    not_juror = await json_of(await client.post(f"{jury_url}/jurors", headers=boss,
                                                json={"email": organiser.email}), 400)
    assert not_juror["error"]["code"] == "not_a_juror"

    await json_of(await client.post(f"{API}/contests/{contest.id}/open", headers=boss), 200)
    locked = await json_of(await client.put(f"{jury_url}/formula", headers=boss, json={
        "public_weight_pct": 100, "min_points": 0, "max_points": 10}), 409)
    assert locked["error"]["code"] == "formula_locked"

    await vote(sessions, contest, "01", 6)
    await vote(sessions, contest, "02", 2)
    ada, ben = bearer(await api_tokens(client, first)), bearer(await api_tokens(client, second))
    await json_of(await client.put(f"{API}/jury/{contest.id}/scores", headers=ada,
                                   json={"points": {"01": 2, "02": 10}}), 200)
    out_of_range = await json_of(await client.put(f"{API}/jury/{contest.id}/scores", headers=ben,
                                                  json={"points": {"01": 4, "02": 11}}), 400)
    assert out_of_range["error"]["code"] == "points_out_of_range"
    await json_of(await client.put(f"{API}/jury/{contest.id}/scores", headers=ben,
                                   json={"points": {"01": 4, "02": 6}}), 200)

    # Each juror sees their own points, nobody else's, and nothing of the orders or the money.
    [ada_view] = (await json_of(await client.get(f"{API}/jury", headers=ada), 200))["contests"]
    [ben_view] = (await json_of(await client.get(f"{API}/jury", headers=ben), 200))["contests"]
    assert [(c["code"], c["points"]) for c in ada_view["candidates"]] == [("01", 2), ("02", 10)]
    assert [(c["code"], c["points"]) for c in ben_view["candidates"]] == [("01", 4), ("02", 6)]
    for path in ("/orders", f"/contests/{contest.id}", f"/contests/{contest.id}/settlement",
                 f"/contests/{contest.id}/jury", "/contests"):
        assert (await client.get(API + path, headers=ada)).status == 403, path

    # The organiser sees that 2 of 2 jurors have scored, never a point; the public board says only the formula.
    progress = await json_of(await client.get(jury_url, headers=boss), 200)
    assert (progress["jurors_done"], progress["jurors_seated"], progress["results"]) == (2, 2, None)
    assert all(set(juror) == {"email", "scored", "done"} for juror in progress["jurors"])
    sealed = await board_when(client, contest.slug, lambda board: "formula" in board)
    assert sealed["formula"] == {"public_weight_pct": 50, "jury_weight_pct": 50, "jury_revealed": False}
    assert all("jury_points" not in row and "score_pct" not in row for row in sealed["candidates"])

    unconfirmed = await json_of(await client.post(f"{jury_url}/reveal", headers=boss, json={}), 400)
    assert unconfirmed["error"]["code"] == "confirm_reveal"
    revealed = await json_of(await client.post(f"{jury_url}/reveal", headers=boss, json={"confirm": True}), 200)
    # 01: 75% of the votes, 6 of 22 points; 02: 25%, 16 of 22 -> 51.14 against 48.86.
    assert [(r["code"], r["rank"], r["jury_points"], r["score_pct"]) for r in revealed["results"]] == [
        ("01", 1, 6, 51.14), ("02", 2, 16, 48.86)]
    late = await json_of(await client.put(f"{API}/jury/{contest.id}/scores", headers=ada,
                                          json={"points": {"01": 10}}), 409)
    assert late["error"]["code"] == "jury_revealed"

    board = await board_when(client, contest.slug, lambda board: board.get("formula", {}).get("jury_revealed"))
    assert board["formula"] == {"public_weight_pct": 50, "jury_weight_pct": 50, "jury_revealed": True}
    assert [(c["code"], c["rank"], c["votes"], c["jury_points"], c["public_share_pct"], c["jury_share_pct"],
             c["score_pct"]) for c in board["candidates"]] == [
        ("01", 1, 6, 6, 75.0, 27.27, 51.14), ("02", 2, 2, 16, 25.0, 72.73, 48.86)]

    auditor = bearer(await api_tokens(client, await make_account(sessions, "auditor")))
    signed = await json_of(await client.post(f"{API}/contests/{contest.id}/results/sign", headers=auditor), 201)
    lines = signed["sheet"].splitlines()
    assert "formula,,50% public share of votes + 50% jury share of points,50,50," in lines
    assert "jury,01,Candidate 01,6,,points" in lines and "jury,02,Candidate 02,16,,points" in lines
    blend_at = lines.index("blend,code,rank,public_share_pct,jury_share_pct,score_pct")
    assert lines[blend_at + 1:blend_at + 3] == ["blend,01,1,75.00,27.27,51.14", "blend,02,2,25.00,72.73,48.86"]
    key = signing.public_key((await json_of(await client.get(f"{API}/results-key", headers=auditor), 200))["pem"]
                             .encode())
    assert signing.signature_holds(key, signed["sheet"].encode(), signed["signature"].encode())
    assert not signing.signature_holds(key, signed["sheet"].replace(",51.14", ",61.14").encode(),
                                       signed["signature"].encode())

    async with sessions() as session:
        actions = [(e.action, e.actor, e.details) for e in await session.scalars(
            select(AuditEntry).where(AuditEntry.action.in_(("jury.score", "jury.reveal", "contest.formula")))
            .order_by(AuditEntry.id))]
    assert [(action, actor) for action, actor, _ in actions] == [
        ("contest.formula", organiser.email), ("jury.score", first.email), ("jury.score", second.email),
        ("jury.reveal", organiser.email)]
    assert actions[1][2] == {"candidates": ["01", "02"]}  # who scored whom, not the points: they were sealed
    assert actions[3][2]["points"] == {"01": 6, "02": 16}


async def test_a_contest_of_the_public_alone_keeps_its_sheet_and_board_as_they_were(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=2, fraud_rules=RULES_OFF)
    await vote(sessions, contest, "02", 3)
    board = await json_of(await client.get(f"/api/v1/contests/{contest.slug}/leaderboard"), 200)
    assert set(board) == {"contest", "version", "updated_at", "sealed", "total_votes", "candidates", "overlay"}
    auditor = bearer(await api_tokens(client, await make_account(sessions, "auditor")))
    signed = await json_of(await client.post(f"{API}/contests/{contest.id}/results/sign", headers=auditor), 201)
    records = [line.split(",")[0] for line in signed["sheet"].splitlines()]
    assert records == ["record", "contest", "candidate", "candidate", "total", "ledger", "signed_at"]


async def test_before_the_reveal_the_signed_sheet_says_the_formula_and_that_the_jury_is_sealed(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=2, fraud_rules=RULES_OFF, public_weight_pct=0)
    juror = await make_account(sessions, "jury")
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    await json_of(await client.post(f"{API}/contests/{contest.id}/jury/jurors", headers=owner,
                                    json={"email": juror.email}), 201)
    await json_of(await client.put(f"{API}/jury/{contest.id}/scores", headers=bearer(await api_tokens(client, juror)),
                                   json={"points": {"01": 9, "02": 3}}), 200)
    signed = await json_of(await client.post(f"{API}/contests/{contest.id}/results/sign", headers=owner), 201)
    lines = signed["sheet"].splitlines()
    assert "formula,,0% public share of votes + 100% jury share of points,0,100," in lines
    assert "jury,,sealed,,," in lines and not any(line.startswith(("jury,01", "blend")) for line in lines)
    owner_view = await json_of(await client.get(f"{API}/contests/{contest.id}/jury", headers=owner), 200)
    assert owner_view["results"] is None and "9" not in str(owner_view["jurors"])


async def test_revealing_a_closed_contests_jury_publishes_a_sheet_with_its_parts(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=2, fraud_rules=RULES_OFF, public_weight_pct=50)
    juror = await make_account(sessions, "jury")
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    await json_of(await client.post(f"{API}/contests/{contest.id}/jury/jurors", headers=owner,
                                    json={"email": juror.email}), 201)
    await json_of(await client.put(f"{API}/jury/{contest.id}/scores", headers=bearer(await api_tokens(client, juror)),
                                   json={"points": {"01": 1, "02": 3}}), 200)
    await vote(sessions, contest, "01", 1)
    await json_of(await client.post(f"{API}/contests/{contest.id}/close", headers=owner), 200)
    await json_of(await client.post(f"{API}/contests/{contest.id}/jury/reveal", headers=owner,
                                     json={"confirm": True}), 200)
    published = await signing.latest_sheet(sessions, contest.slug)
    assert published is not None and published.reason == "after_close"
    assert b"blend,01,1,100.00,25.00,62.50\nblend,02,2,0.00,75.00,37.50\n" in published.sheet


async def test_on_the_pages_in_french_a_juror_lands_on_their_jury_and_the_organiser_reveals_with_a_confirmation(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=2, status=ContestStatus.DRAFT, fraud_rules=RULES_OFF,
                                 name="Nuit des Étoiles")
    organiser = await make_account(sessions, "organiser")
    juror = await make_account(sessions, "jury", "ada@example.com")
    await give_contest(sessions, contest.id, organiser.id)
    page = f"/admin/contests/{contest.id}/jury"
    token = await browser_sign_in(client, organiser)
    for form in ({"public_weight_pct": "40", "min_points": "1", "max_points": "5"}, {"email": juror.email}):
        action = "/formula" if "min_points" in form else "/jurors"
        posted = await client.post(page + action, data={"csrf_token": token, **form}, allow_redirects=False)
        assert posted.status == 303, await posted.text()
    opened = await client.post(f"/admin/contests/{contest.id}/open", data={"csrf_token": token}, allow_redirects=False)
    assert opened.status == 303, await opened.text()

    signed_in = await client.post("/admin/signin", data={
        "csrf_token": csrf_token(await (await client.get("/admin/signin")).text()), "email": juror.email,
        "password": PASSWORD, "code": await fresh_code(client, juror)}, allow_redirects=False)
    assert signed_in.headers["Location"] == "/admin/jury"
    assert (await client.get("/admin/", allow_redirects=False)).headers["Location"] == "/admin/jury"
    mine = await client.get("/admin/jury?lang=fr")
    html = await mine.text()
    assert mine.status == 200 and "Vos points (de 1 à 5)" in html and "/admin/contests" not in html
    scored = await client.post(f"/admin/jury/{contest.id}/scores", data={
        "csrf_token": csrf_token(html), "points.01": "5", "points.02": ""}, allow_redirects=False)
    assert scored.status == 303
    assert 'name="points.01" min="1" max="5" value="5"' in await (await client.get("/admin/jury")).text()
    assert (await client.get(page)).status == 403

    token = await browser_sign_in(client, organiser)
    before = await (await client.get(page + "?lang=fr")).text()
    assert "0 jurés sur 1 ont noté chaque candidat." in before and 'id="blend"' not in before
    unconfirmed = await client.post(page + "/reveal", data={"csrf_token": token})
    assert unconfirmed.status == 400 and "Confirm the reveal" in await unconfirmed.text()
    revealed = await client.post(page + "/reveal", data={"csrf_token": token, "confirm": "yes"},
                                 allow_redirects=False)
    assert revealed.status == 303
    after = await (await client.get(page + "?lang=fr")).text()
    assert "40 % de la part des votes du public + 60 % de la part des points du jury" in after
    assert ('<td>1</td><td>01</td><td>0</td><td>5</td><td>0,00\u202f%</td><td>100,00\u202f%</td><td>60,00\u202f%</td>'
            in after)
    for html in (before, after):
        assert english_in(visible_text(html, ("Nuit des Étoiles", "Candidate 01", "Candidate 02", organiser.email,
                                              juror.email))) == []


async def test_a_juror_taken_off_the_jury_before_the_reveal_takes_their_points_with_them(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=2, fraud_rules=RULES_OFF, public_weight_pct=0)
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    first, second = (await make_account(sessions, "jury", "ada@example.com"),
                     await make_account(sessions, "jury", "ben@example.com"))
    jury_url = f"{API}/contests/{contest.id}/jury"
    for juror, points in ((first, {"01": 10, "02": 0}), (second, {"01": 0, "02": 4})):
        await json_of(await client.post(f"{jury_url}/jurors", headers=owner, json={"email": juror.email}), 201)
        await json_of(await client.put(f"{API}/jury/{contest.id}/scores", headers=bearer(await api_tokens(
            client, juror)), json={"points": points}), 200)
    after = await json_of(await client.post(f"{jury_url}/jurors/remove", headers=owner,
                                            json={"email": first.email}), 200)
    assert [juror["email"] for juror in after["jurors"]] == [second.email]
    gone = await json_of(await client.put(f"{API}/jury/{contest.id}/scores", headers=bearer(await api_tokens(
        client, first)), json={"points": {"01": 10}}), 404)
    assert gone["error"]["code"] == "contest_not_found"
    revealed = await json_of(await client.post(f"{jury_url}/reveal", headers=owner, json={"confirm": True}), 200)
    assert [(row["code"], row["jury_points"]) for row in revealed["results"]] == [("02", 4), ("01", 0)]
    too_late = await json_of(await client.post(f"{jury_url}/jurors/remove", headers=owner,
                                               json={"email": second.email}), 409)
    assert too_late["error"]["code"] == "jury_revealed"


async def test_the_api_document_describes_every_jury_path(client: TestClient, sessions: Sessions) -> None:
    document = await json_of(await client.get(f"{API}/openapi.json"), 200)
    jury_paths = {path: operations for path, operations in document["paths"].items() if "/jury" in path}
    assert len(jury_paths) == 7
    for path, operations in jury_paths.items():
        assert all(operation["summary"] != path.removeprefix(API) for operation in operations.values()), path


async def test_another_organisers_contest_and_another_jurys_contest_are_as_absent_as_missing_ones(
        client: TestClient, sessions: Sessions) -> None:
    mine, theirs = (await make_contest(sessions, candidates=2, status=ContestStatus.DRAFT),
                    await make_contest(sessions, candidates=2, public_weight_pct=50))
    organiser = await make_account(sessions, "organiser")
    await give_contest(sessions, mine.id, organiser.id)
    boss = bearer(await api_tokens(client, organiser))
    their_jury = f"{API}/contests/{theirs.id}/jury"
    for method, path, body in (("GET", their_jury, None), ("PUT", f"{their_jury}/formula", {"public_weight_pct": 0}),
                               ("POST", f"{their_jury}/reveal", {"confirm": True}),
                               ("POST", f"{their_jury}/jurors", {"email": "ada@example.com"})):
        refused = await json_of(await client.request(method, path, headers=boss, json=body), 404)
        assert refused["error"]["code"] == "contest_not_found", path
    juror = await make_account(sessions, "jury", "ada@example.com")
    await json_of(await client.post(f"{API}/contests/{mine.id}/jury/jurors", headers=boss,
                                    json={"email": juror.email}), 201)
    elsewhere = await json_of(await client.put(f"{API}/jury/{theirs.id}/scores", headers=bearer(
        await api_tokens(client, juror)), json={"points": {"01": 1}}), 404)
    assert elsewhere["error"]["code"] == "contest_not_found"
    async with sessions() as session:
        assert (await session.get(Contest, theirs.id)).public_weight_pct == 50  # type: ignore[union-attr]
