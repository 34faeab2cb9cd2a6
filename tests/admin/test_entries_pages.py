"""The entries' page of a contest, as an organiser uses it on a phone: the call for entries, the queue of
entries with their clips to watch, and approving (a candidate with the next free code), rejecting with a
reason, approving several at once (all of them or none). Auditors read it; nobody sees another's contest."""

from __future__ import annotations

import re

from sqlalchemy import select

from gateway.core.contests.catalog import mask_msisdn
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, UploadState
from gateway.kit.keys import MEDIA_STORAGE
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, csrf_token, make_account
from tests.admin.entries_data import Client, an_entry, give_contest, open_call
from tests.factories import make_contest


def candidate_rows(html: str) -> dict[str, str]:
    """The contest page's candidates: code -> name."""
    return dict(re.findall(r"<tr><td>(\d+)</td><td>(?:<img[^>]*>)?</td>\s*<td>([^<]+)</td>", html))


async def audit_actions(sessions: Sessions, prefix: str) -> list[tuple[str, str, str]]:
    async with sessions() as session:
        rows = await session.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.target)
                                     .where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def organiser_with_contest(client: Client, sessions: Sessions) -> tuple[int, str]:
    """A contest with candidates 01-03 and a call for entries, its organiser signed in: (contest id, CSRF)."""
    contest = await make_contest(sessions, candidates=3)
    organiser = await make_account(sessions, "organiser")
    await give_contest(sessions, contest.id, organiser.id)
    await open_call(sessions, contest.id)
    return contest.id, await browser_sign_in(client, organiser)


async def test_an_organiser_watches_a_ready_clip_and_approves_the_entry_into_the_next_free_code(
        client: Client, sessions: Sessions) -> None:
    cid, token = await organiser_with_contest(client, sessions)
    entry = await an_entry(sessions, cid, "Awa Ndiaye", bio="Singer from Douala")
    contest_page = await (await client.get(f"/admin/contests/{cid}")).text()
    assert f'href="/admin/contests/{cid}/entries"' in contest_page

    page = await client.get(f"/admin/contests/{cid}/entries")
    html = await page.text()
    assert page.status == 200 and "Awa Ndiaye" in html and "Singer from Douala" in html
    assert str(mask_msisdn(entry.msisdn)) in html and entry.msisdn not in html  # the number masked

    def link(key: str) -> str:  # the organiser watches on short-lived signed links (nothing public before approval)
        return re.escape(f"{client.app[MEDIA_STORAGE].public_url(key)}?expires=") + r"\d+&amp;sig=\w+"

    assert re.search(f'<video controls preload="none" width="240" poster="{link(f"{entry.clip_id}/poster.jpg")}" '
                     f'src="{link(f"{entry.clip_id}/360p.mp4")}"></video>', html), html
    assert re.search(f'href="{link(f"{entry.clip_id}/720p.mp4")}"', html) and "ready" in html
    assert re.search(f'src="{link(f"{entry.photo_id}/photo.jpg")}"', html)
    files_origin = client.app[MEDIA_STORAGE].files_origin
    assert f"media-src {files_origin}" in page.headers["Content-Security-Policy"]  # the clip may play

    approved = await client.post(f"/admin/contests/{cid}/entries/approve",
                                 data={"csrf_token": token, "entry": str(entry.id)}, allow_redirects=False)
    assert approved.status == 303 and approved.headers["Location"] == f"/admin/contests/{cid}/entries?status=pending"
    assert candidate_rows(await (await client.get(f"/admin/contests/{cid}")).text()) == {
        "01": "Candidate 01", "02": "Candidate 02", "03": "Candidate 03", "04": "Awa Ndiaye"}
    assert "No entry here." in await (await client.get(f"/admin/contests/{cid}/entries")).text()
    decided = await (await client.get(f"/admin/contests/{cid}/entries?status=approved")).text()
    assert "Awa Ndiaye" in decided and "approved by organiser@example.com" in decided
    assert '<p class="candidate-code">Candidate 04</p>' in decided
    assert await audit_actions(sessions, "entry.") == [("organiser@example.com", "entry.approve", f"entry:{entry.id}")]


async def test_a_rejection_needs_a_reason_and_keeps_it(client: Client, sessions: Sessions) -> None:
    cid, token = await organiser_with_contest(client, sessions)
    entry = await an_entry(sessions, cid, "Ben Tchoua")
    no_reason = await client.post(f"/admin/contests/{cid}/entries/reject",
                                  data={"csrf_token": token, "entry": str(entry.id), "reason": "  "})
    html = await no_reason.text()
    assert no_reason.status in (400, 422) and 'class="error"' in html and "reason" in html.lower()
    assert "Ben Tchoua" in html  # still in the queue
    assert await audit_actions(sessions, "entry.") == []

    rejected = await client.post(f"/admin/contests/{cid}/entries/reject", allow_redirects=False, data={
        "csrf_token": token, "entry": str(entry.id), "reason": "The song is not yours to sing."})
    assert rejected.status == 303
    assert "Ben Tchoua" not in await (await client.get(f"/admin/contests/{cid}/entries")).text()
    shown = await (await client.get(f"/admin/contests/{cid}/entries?status=rejected")).text()
    assert "Ben Tchoua" in shown and "rejected by organiser@example.com" in shown
    assert "The song is not yours to sing." in shown
    assert await audit_actions(sessions, "entry.") == [("organiser@example.com", "entry.reject", f"entry:{entry.id}")]
    again = await client.post(f"/admin/contests/{cid}/entries/reject",
                              data={"csrf_token": token, "entry": str(entry.id), "reason": "Twice"})
    assert again.status == 409 and "This entry was rejected already." in await again.text()


async def test_a_bulk_approval_is_all_or_none_and_names_the_entry_that_held_it(
        client: Client, sessions: Sessions) -> None:
    cid, token = await organiser_with_contest(client, sessions)
    awa = await an_entry(sessions, cid, "Awa")
    ben = await an_entry(sessions, cid, "Ben", clip=UploadState.RECEIVED)
    chloe = await an_entry(sessions, cid, "Chloe")
    await an_entry(sessions, cid, "Dan", clip=UploadState.REFUSED, refusal="The clip is longer than 90 seconds.")
    queue = await (await client.get(f"/admin/contests/{cid}/entries")).text()
    assert queue.count('form="bulk"') == 4 and "processing" in queue
    assert "refused: The clip is longer than 90 seconds." in queue

    refused = await client.post(f"/admin/contests/{cid}/entries/approve", data=[
        ("csrf_token", token), ("entry", str(awa.id)), ("entry", str(ben.id)), ("entry", str(chloe.id))])
    html = await refused.text()
    assert refused.status == 409 and "The clip of Ben&#39;s entry is not ready to be watched." in html
    assert candidate_rows(await (await client.get(f"/admin/contests/{cid}")).text()).keys() == {"01", "02", "03"}
    still = await (await client.get(f"/admin/contests/{cid}/entries")).text()
    assert all(f"<strong>{name}</strong>" in still for name in ("Awa", "Ben", "Chloe"))

    done = await client.post(f"/admin/contests/{cid}/entries/approve", allow_redirects=False, data=[
        ("csrf_token", token), ("entry", str(chloe.id)), ("entry", str(awa.id))])
    assert done.status == 303
    rows = candidate_rows(await (await client.get(f"/admin/contests/{cid}")).text())
    assert (rows["04"], rows["05"]) == ("Chloe", "Awa")
    assert [a for _, a, _ in await audit_actions(sessions, "entry.")] == ["entry.approve", "entry.approve"]


async def test_the_call_for_entries_is_saved_from_the_page_and_checked(client: Client, sessions: Sessions
                                                                      ) -> None:
    contest = await make_contest(sessions)
    owner = await make_account(sessions, "owner")
    token = await browser_sign_in(client, owner)
    page = await (await client.get(f"/admin/contests/{contest.id}/entries")).text()
    assert "No entry here." in page and 'name="rules"' in page
    wrong = await client.post(f"/admin/contests/{contest.id}/entries/call", data={
        "csrf_token": token, "opens_at": "2027-01-10T10:00", "closes_at": "2027-01-01T10:00",
        "rules": "Be yourself.", "max_entries": "50"})
    html = await wrong.text()
    assert wrong.status == 400 and "Entries must close after they open." in html and "Be yourself." in html
    saved = await client.post(f"/admin/contests/{contest.id}/entries/call", allow_redirects=False, data={
        "csrf_token": token, "opens_at": "2027-01-01T10:00", "closes_at": "2027-01-10T10:00",
        "rules": "Be yourself.", "max_entries": ""})
    assert saved.status == 303
    shown = await (await client.get(f"/admin/contests/{contest.id}/entries")).text()
    assert 'value="2027-01-01T10:00"' in shown and 'value="2027-01-10T10:00"' in shown and "Be yourself." in shown
    assert await audit_actions(sessions, "entries.") == [("owner@example.com", "entries.call",
                                                          f"contest:{contest.id}")]
    no_csrf = await client.post(f"/admin/contests/{contest.id}/entries/call", data={
        "opens_at": "2027-01-01T10:00", "closes_at": "2027-01-10T10:00", "rules": "Changed"})
    assert no_csrf.status == 403
    assert "Changed" not in await (await client.get(f"/admin/contests/{contest.id}/entries")).text()


async def test_the_days_entry_codes_are_set_on_the_page_within_the_services_ceiling(client: Client,
                                                                                    sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    token = await browser_sign_in(client, await make_account(sessions, "owner"))
    url = f"/admin/contests/{contest.id}/entries"
    page = await (await client.get(url + "?lang=en")).text()
    assert "(empty: 200; the service allows up to 2000)" in page and 'name="codes_per_day"' in page
    call = {"csrf_token": token, "opens_at": "2027-01-01T10:00", "closes_at": "2027-01-10T10:00", "rules": "Sing."}
    over = await client.post(f"{url}/call", data={**call, "codes_per_day": "2001"})
    assert over.status == 400 and "Codes texted a day: 1 or more and at most 2000" in await over.text()
    assert await audit_actions(sessions, "entries.") == []
    saved = await client.post(f"{url}/call", data={**call, "codes_per_day": "40"}, allow_redirects=False)
    assert saved.status == 303
    assert 'name="codes_per_day" value="40"' in await (await client.get(url)).text()


async def test_an_auditor_reads_the_queue_but_cannot_decide_and_support_cannot_see_it(
        client: Client, sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    await open_call(sessions, contest.id)
    entry = await an_entry(sessions, contest.id, "Awa")
    token = await browser_sign_in(client, await make_account(sessions, "auditor"))
    html = await (await client.get(f"/admin/contests/{contest.id}/entries")).text()
    assert "Awa" in html and "One clip, one minute, your own song." in html
    assert "Approve" not in html and "Reject" not in html and 'name="rules"' not in html
    for action, extra in (("approve", {}), ("reject", {"reason": "No"})):
        refused = await client.post(f"/admin/contests/{contest.id}/entries/{action}",
                                    data={"csrf_token": token, "entry": str(entry.id), **extra})
        assert refused.status == 403 and "The auditor role may not do this." in await refused.text()
    assert "Awa" in await (await client.get(f"/admin/contests/{contest.id}/entries")).text()  # still pending

    support = bearer(await api_tokens(client, await make_account(sessions, "support")))
    assert (await client.get(f"/admin/contests/{contest.id}/entries", headers=support)).status == 403
    assert await audit_actions(sessions, "entry.") == []


async def test_another_organisers_contest_entries_are_not_there(client: Client, sessions: Sessions) -> None:
    theirs = await make_contest(sessions)
    owner_of_theirs = await make_account(sessions, "organiser", "them@example.com")
    await give_contest(sessions, theirs.id, owner_of_theirs.id)
    entry = await an_entry(sessions, theirs.id, "Awa")
    cid, token = await organiser_with_contest(client, sessions)

    assert (await client.get(f"/admin/contests/{theirs.id}/entries")).status == 404
    for path in (f"/admin/contests/{theirs.id}/entries/approve", f"/admin/contests/{cid}/entries/approve",
                 f"/admin/contests/{cid}/entries/reject"):
        response = await client.post(path, data={"csrf_token": token, "entry": str(entry.id), "reason": "x"})
        assert response.status == 404, path
    assert "Awa" not in await (await client.get(f"/admin/contests/{cid}/entries")).text()
    assert await audit_actions(sessions, "entry.") == []
    assert csrf_token(await (await client.get(f"/admin/contests/{cid}/entries")).text())
