"""Entries through the admin JSON API: the call for entries, the queue with its filter, approving (all or
none, naming the entry that held it) and rejecting (a reason required), an organiser's replacement of a
candidate's clip (a tus grant, the upload followed until ready, then set), and the entries' export. Roles
and contests as the pages: auditors read, another organiser's contest is absent (404)."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select

from gateway.core.media import uploads
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Candidate, Entry, EntryStatus, MediaUpload, UploadState
from gateway.kit.keys import MEDIA_STORAGE, SETTINGS
from media.local_storage import LocalStorage
from tests.admin.accounts import api_tokens, bearer, make_account
from tests.admin.entries_data import Client, an_entry, an_upload, give_contest, open_call
from tests.factories import make_contest

API = "/api/v1/admin"


async def as_role(client: Client, sessions: Sessions, role: str, email: str | None = None,
                  contest_id: int | None = None) -> dict[str, str]:
    account = await make_account(sessions, role, email)
    if contest_id is not None:
        await give_contest(sessions, contest_id, account.id)
    return bearer(await api_tokens(client, account))


async def json_of(response: Any, status: int) -> Any:
    assert response.status == status, await response.text()
    return await response.json()


async def audit_of(sessions: Sessions, prefix: str) -> list[tuple[str, str | None]]:
    async with sessions() as session:
        rows = await session.execute(select(AuditEntry.action, AuditEntry.target)
                                     .where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id))
        return [(action, target) for action, target in rows]


async def test_an_organiser_sets_the_call_and_decides_entries_through_the_api(client: Client, sessions: Sessions
                                                                             ) -> None:
    contest = await make_contest(sessions, candidates=2)
    organiser = await as_role(client, sessions, "organiser", contest_id=contest.id)
    base = f"{API}/contests/{contest.id}/entries"
    assert (await json_of(await client.get(f"{base}/call", headers=organiser), 200)) == {"call": None}
    call = await json_of(await client.put(f"{base}/call", headers=organiser, json={
        "opens_at": "2027-01-01T10:00:00Z", "closes_at": "2027-01-10T10:00:00Z", "rules": "One minute.",
        "max_entries": None}), 200)
    assert call["call"] == {"opens_at": "2027-01-01T10:00:00+00:00", "closes_at": "2027-01-10T10:00:00+00:00",
                            "rules": "One minute.", "max_entries": None, "fee_amount": None, "codes_per_day": None}
    wrong = await json_of(await client.put(f"{base}/call", headers=organiser, json={
        "opens_at": "2027-01-10T10:00:00Z", "closes_at": "2027-01-01T10:00:00Z", "rules": "x"}), 400)
    assert wrong["error"]["field"] == "closes_at"

    awa = await an_entry(sessions, contest.id, "Awa")
    ben = await an_entry(sessions, contest.id, "Ben", clip=UploadState.RECEIVED)
    chloe = await an_entry(sessions, contest.id, "Chloe")
    listed = (await json_of(await client.get(base, headers=organiser), 200))["entries"]
    assert [e["name"] for e in listed] == ["Awa", "Ben", "Chloe"]
    assert listed[0]["msisdn"] == awa.msisdn[:5] + "*****" + awa.msisdn[-3:]
    assert listed[1]["clip"]["state"] == "received"
    public = client.app[MEDIA_STORAGE].public_url(f"{awa.clip_id}/360p.mp4")
    assert listed[0]["clip"]["urls"]["360p"].startswith(f"{public}?expires=")  # the organiser's signed link

    held = await json_of(await client.post(f"{API}/entries/approve", headers=organiser,
                                           json={"entries": [str(awa.id), str(ben.id)]}), 409)
    assert held["error"]["code"] == "clip_not_ready"
    assert held["error"]["message"] == "The clip of Ben's entry is not ready to be watched."
    made = await json_of(await client.post(f"{API}/entries/approve", headers=organiser,
                                           json={"entries": [str(awa.id), str(chloe.id)]}), 200)
    assert [(c["code"], c["name"]) for c in made["candidates"]] == [("03", "Awa"), ("04", "Chloe")]
    assert made["candidates"][0]["clip_id"] == str(awa.clip_id)

    no_reason = await json_of(await client.post(f"{API}/entries/{ben.id}/reject", headers=organiser, json={}), 400)
    assert no_reason["error"]["field"] == "reason"
    rejected = await json_of(await client.post(f"{API}/entries/{ben.id}/reject", headers=organiser,
                                               json={"reason": "Not your song."}), 200)
    assert rejected["status"] == "rejected" and rejected["reason"] == "Not your song."
    assert [e["name"] for e in (await json_of(await client.get(f"{base}?status=approved", headers=organiser),
                                              200))["entries"]] == ["Awa", "Chloe"]
    shown = (await json_of(await client.get(f"{base}?status=rejected", headers=organiser), 200))["entries"]
    assert [(e["name"], e["reason"], e["decided_by"]) for e in shown] == [("Ben", "Not your song.",
                                                                           "organiser@example.com")]
    assert await audit_of(sessions, "entr") == [
        ("entries.call", f"contest:{contest.id}"), ("entry.approve", f"entry:{awa.id}"),
        ("entry.approve", f"entry:{chloe.id}"), ("entry.reject", f"entry:{ben.id}")]
    document = await json_of(await client.get(f"{API}/openapi.json"), 200)
    assert "all of them or none" in document["paths"][f"{API}/entries/approve"]["post"]["summary"]


async def test_auditors_read_entries_and_other_organisers_do_not_see_them(client: Client, sessions: Sessions
                                                                         ) -> None:
    contest = await make_contest(sessions)
    await open_call(sessions, contest.id)
    entry = await an_entry(sessions, contest.id, "Awa")
    auditor = await as_role(client, sessions, "auditor")
    assert [e["name"] for e in (await json_of(await client.get(f"{API}/contests/{contest.id}/entries",
                                                                 headers=auditor), 200))["entries"]] == ["Awa"]
    for method, path, body in (("POST", f"{API}/entries/approve", {"entries": [str(entry.id)]}),
                               ("POST", f"{API}/entries/{entry.id}/reject", {"reason": "No"}),
                               ("PUT", f"{API}/contests/{contest.id}/entries/call", {"rules": "x"}),
                               ("POST", f"{API}/candidates/1/clip/grant", {})):
        refused = await json_of(await client.request(method, path, headers=auditor, json=body), 403)
        assert refused["error"]["code"] == "forbidden", path

    other = await as_role(client, sessions, "organiser", "other@example.com", (await make_contest(sessions)).id)
    reads: tuple[tuple[str, str, dict[str, Any] | None], ...] = (
        ("GET", f"{API}/contests/{contest.id}/entries", None),
        ("GET", f"{API}/contests/{contest.id}/entries/call", None),
        ("POST", f"{API}/entries/approve", {"entries": [str(entry.id)]}),
        ("POST", f"{API}/entries/{entry.id}/reject", {"reason": "No"}))
    for method, path, sent in reads:
        assert (await client.request(method, path, headers=other, json=sent)).status == 404, path
    assert (await json_of(await client.get(f"{API}/contests/{contest.id}/entries?status=pending", headers=auditor),
                          200))["entries"][0]["status"] == "pending"
    assert await audit_of(sessions, "entry.") == []


async def test_an_organiser_replaces_a_candidates_clip_with_an_upload_of_their_own(client: Client,
                                                                                   sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=1)
    organiser = await as_role(client, sessions, "organiser", contest_id=contest.id)
    async with sessions() as session:
        candidate_id = await session.scalar(select(Candidate.id).where(Candidate.contest_id == contest.id))
    clip = f"{API}/candidates/{candidate_id}/clip"
    grant = await json_of(await client.post(f"{clip}/grant", headers=organiser, json={}), 201)
    assert grant["protocol"] == "tus" and grant["url"].endswith(f"/uploads/{grant['upload_id']}")
    assert grant["fields"]["authorization"].startswith("Bearer ") and grant["max_bytes"] == uploads.CLIP_MAX_BYTES
    async with sessions() as session:
        row = await session.get(MediaUpload, grant["upload_id"])
    assert row is not None and row.msisdn is None and row.contest_id == contest.id

    candidates_own = await an_upload(sessions, contest.id, msisdn="+237670000777")  # a clip some candidate dropped
    taken = await json_of(await client.put(clip, headers=organiser, json={"upload_id": str(candidates_own)}), 400)
    assert taken["error"]["code"] == "unknown_upload"
    early = await json_of(await client.put(clip, headers=organiser, json={"upload_id": grant["upload_id"]}), 409)
    assert early["error"]["code"] == "clip_not_ready"
    assert (await json_of(await client.get(f"{clip}/uploads/{grant['upload_id']}", headers=organiser),
                          200))["state"] == "granted"
    storage = client.app[MEDIA_STORAGE]
    assert isinstance(storage, LocalStorage)
    source = storage.source(grant["upload_id"])  # where the tus server leaves a finished upload
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(b"\x00" * 2048)
    assert (await json_of(await client.get(f"{clip}/uploads/{grant['upload_id']}", headers=organiser),
                          200))["state"] == "received"  # the storage was asked
    await uploads.note_ready(sessions, row.id, {"duration": 30.0}, {  # what the media job leaves
        "360p": {"key": f"{row.id}/360p.mp4", "content_type": "video/mp4"},
        "poster": {"key": f"{row.id}/poster.jpg", "content_type": "image/jpeg"}})
    ready = await json_of(await client.get(f"{clip}/uploads/{grant['upload_id']}", headers=organiser), 200)
    assert ready["state"] == "ready"
    assert ready["urls"]["360p"].startswith(storage.public_url(f"{row.id}/360p.mp4") + "?expires=")

    changed = await json_of(await client.put(clip, headers=organiser, json={"upload_id": grant["upload_id"]}), 200)
    assert changed["clip_id"] == grant["upload_id"] and changed["code"] == "01"
    assert await audit_of(sessions, "candidate.clip") == [("candidate.clip", f"candidate:{candidate_id}")]
    other = await as_role(client, sessions, "organiser", "other@example.com")
    assert (await client.post(f"{clip}/grant", headers=other, json={})).status == 404


async def test_the_entries_export_lists_each_entry_with_its_decision(client: Client, sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=1)
    organiser = await as_role(client, sessions, "organiser", contest_id=contest.id)
    awa = await an_entry(sessions, contest.id, "Awa")
    ben = await an_entry(sessions, contest.id, "=Ben")  # a formula as a name stays text
    pending = await an_entry(sessions, contest.id, "Chloe")
    await json_of(await client.post(f"{API}/entries/approve", headers=organiser, json={"entries": [str(awa.id)]}), 200)
    await json_of(await client.post(f"{API}/entries/{ben.id}/reject", headers=organiser, json={"reason": "Blurry"}),
                  200)
    owner = await as_role(client, sessions, "owner")
    response = await client.get(f"{API}/contests/{contest.id}/exports/entries.csv", headers=owner)
    assert response.status == 200 and "contest-" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [(r["entry_id"], r["status"], r["name"], r["candidate"], r["reason"], r["decided_by"]) for r in rows] == [
        (str(awa.id), "approved", "Awa", "02", "", "organiser@example.com"),
        (str(ben.id), "rejected", "'=Ben", "", "Blurry", "organiser@example.com"),
        (str(pending.id), "pending", "Chloe", "", "", "")]
    # Masked, and quoted as every cell starting with + is (a spreadsheet would read a formula).
    assert rows[0]["msisdn"] == "'" + awa.msisdn[:5] + "*****" + awa.msisdn[-3:] and rows[0]["submitted_at"]
    assert rows[0]["decided_at"] and not rows[2]["decided_at"]
    xlsx = await client.get(f"/admin/contests/{contest.id}/exports/entries.xlsx", headers=owner)
    assert xlsx.status == 200 and (await xlsx.read())[:2] == b"PK"
    assert (await client.get(f"{API}/contests/{contest.id}/exports/entries.csv", headers=organiser)).status == 403
    assert await audit_of(sessions, "export.") == [("export.entries", f"contest:{contest.id}")] * 2


async def test_an_entry_whose_clip_was_replaced_since_it_was_watched_is_not_approved(client: Client,
                                                                                     sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=1)
    organiser = await as_role(client, sessions, "organiser", contest_id=contest.id)
    awa = await an_entry(sessions, contest.id, "Awa")
    watched = f"{awa.id}:{awa.clip_id}"  # what the review page posts: the entry and the clip it played
    replacement = await an_upload(sessions, contest.id, msisdn=awa.msisdn)
    async with sessions.begin() as session:  # the candidate swaps the clip while the organiser's page is open
        entry = await session.get(Entry, awa.id)
        assert entry is not None
        entry.clip_id = replacement
    held = await json_of(await client.post(f"{API}/entries/approve", headers=organiser,
                                           json={"entries": [watched]}), 409)
    assert held["error"]["code"] == "clip_changed"
    async with sessions() as session:
        assert (await session.get(Entry, awa.id)).status is EntryStatus.PENDING  # type: ignore[union-attr]
    seen_new = await json_of(await client.post(f"{API}/entries/approve", headers=organiser,
                                               json={"entries": [f"{awa.id}:{replacement}"]}), 200)
    assert seen_new["candidates"][0]["clip_id"] == str(replacement)


async def test_an_organiser_sets_the_days_entry_codes_within_the_services_ceiling(
        client: Client, sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    organiser = await as_role(client, sessions, "organiser", contest_id=contest.id)
    url = f"{API}/contests/{contest.id}/entries/call"
    call = {"opens_at": "2027-01-01T10:00:00Z", "closes_at": "2027-01-10T10:00:00Z", "rules": "One minute."}
    ceiling = client.app[SETTINGS].entry_codes_per_day
    for wrong in (ceiling + 1, 0):
        refused = await json_of(await client.put(url, headers=organiser, json={**call, "codes_per_day": wrong}), 400)
        assert refused["error"]["field"] == "codes_per_day" and str(ceiling) in refused["error"]["message"]
    assert (await json_of(await client.get(url, headers=organiser), 200)) == {"call": None}  # nothing saved
    saved = await json_of(await client.put(url, headers=organiser, json={**call, "codes_per_day": 50}), 200)
    assert saved["call"]["codes_per_day"] == 50
    await json_of(await client.put(url, headers=organiser, json={**call, "codes_per_day": None}), 200)
    async with sessions() as session:
        audited = list(await session.execute(select(AuditEntry.before, AuditEntry.after)
                                             .where(AuditEntry.action == "entries.call").order_by(AuditEntry.id)))
    assert [(before and before["codes_per_day"], after["codes_per_day"]) for before, after in audited] == [
        (None, 50), (50, None)]
    document = await json_of(await client.get(f"{API}/openapi.json"), 200)
    assert "codes_per_day" in document["components"]["schemas"]["EntryCall"]["properties"]
