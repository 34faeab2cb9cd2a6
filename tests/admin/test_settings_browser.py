"""The admin contest settings in a real browser (headless Chromium, as tests/admin/test_admin_browser.py):
an owner, in French, seals a contest's board until close, turns a fraud rule off, moves a candidate up and
blocks an address; the public page then lists the candidates in that order and shows no count. A screenshot
of each page goes to tests/artifacts/."""

from __future__ import annotations

import asyncio

from playwright.async_api import Browser, expect
from redis.asyncio import Redis

from gateway.db.engine import Sessions
from gateway.db.models import Contest, ContestStatus
from leaderboard.cache import refresh_contest
from tests.admin.accounts import PASSWORD, make_account
from tests.admin.test_admin_browser import shot, site  # noqa: F401  (site: a fixture)
from tests.factories import make_contest
from tests.leaderboard.helpers import confirmed_vote, set_contest


async def test_an_owner_seals_a_board_reorders_and_blocks_in_french(
        site: str, browser: Browser, sessions: Sessions, redis: Redis) -> None:  # noqa: F811
    contest = await make_contest(sessions, candidates=3, name="Gala scellé", slug="gala-scelle")
    await confirmed_vote(sessions, contest, "02", 42)
    account = await make_account(sessions, "owner")
    page = await browser.new_page(viewport={"width": 412, "height": 915}, locale="fr-FR")
    page.set_default_timeout(10_000)

    await page.goto(f"{site}/admin/signin")
    await expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()
    await page.get_by_label("E-mail").fill(account.email)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_label("Code de votre application").fill(account.code())
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.get_by_role("heading", name="Concours")).to_be_visible()

    await page.goto(f"{site}/admin/contests/{contest.id}/edit")
    await page.get_by_label("Classement public").select_option("sealed")
    quick = page.get_by_label("Paiements rapprochés d'un même payeur")
    await expect(quick).to_be_hidden()  # the thresholds are folded away until an organiser opens them
    await page.get_by_text("Avancé : seuils anti-fraude").click()
    await quick.fill("0")
    await shot(page, "settings-01-form-fr")
    await page.get_by_role("button", name="Enregistrer").click()
    await expect(page.get_by_text("Sous scellés : rien de public avant la clôture du concours")).to_be_visible()
    await page.get_by_role("row", name="Candidate 03").get_by_role("button", name="Monter").click()
    await shot(page, "settings-02-contest-fr")
    names = page.locator("td:nth-child(3)")
    await expect(names).to_have_text(["Candidate 01", "Candidate 03", "Candidate 02"])

    await page.get_by_role("link", name="Bloqués").click()
    await page.get_by_label("Adresse ou réseau à bloquer").fill("203.0.113.0/24")
    await page.get_by_label("Motif").last.fill("votes scriptés")
    await page.get_by_role("button", name="Bloquer l'adresse").click()
    await expect(page.get_by_role("cell", name="203.0.113.0/24")).to_be_visible()
    await shot(page, "settings-03-blocked-fr")

    await page.goto(f"{site}/c/{contest.slug}?lang=fr")
    await expect(page.get_by_text("Les résultats restent sous scellés jusqu'à la clôture du vote.")).to_be_visible()
    await expect(page.locator("#board-list li")).to_have_count(0)
    assert "42" not in await page.locator("#board").inner_text()
    await shot(page, "settings-04-public-sealed")
    async with sessions() as session:
        stored = await session.get(Contest, contest.id)
    assert stored is not None and stored.board_sealed and stored.fraud_rules is not None
    assert stored.fraud_rules["quick_payments"] == 0

    # Closed: the open page's live board shows the counts (the web process trusts its copy of a board's
    # settings for 2 s; the publish is the outbox's, as after any vote).
    await set_contest(sessions, contest, status=ContestStatus.CLOSED)
    await asyncio.sleep(2.1)
    await refresh_contest(sessions, redis, contest.id)
    await expect(page.locator("#board-list li")).to_have_count(3)
    await expect(page.locator("#board-sealed")).to_be_hidden()
    await expect(page.locator("#board-list li").first).to_contain_text("42")
    await shot(page, "settings-05-public-after-close")
