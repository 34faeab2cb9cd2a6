"""An SMS that cannot be paid the way it asks is told what the contest takes (its wallets, its country's numbers) and
nothing after: a Kenyan number texting the Cameroonian short code, M-Pesa named on an MTN/Orange contest. "Try again
later" would be false, and each retry costs the voter a premium SMS. A number never heard from is answered in the
language of its words (MSAADA: Swahili)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from assembly.machine.demo import seed_demo
from assembly.worker.job_runtime import JobContext
from channels.sms.parser import language_of
from gateway.db.engine import Sessions
from tests.channels.sms.test_voting import handle, prefer_english, receive, sms_orders
from tests.fakes.africastalking import FakeAt
from tests.fakes.mtn import FakeMtn

TAKES_FR = "Ce concours se paie par MTN MoMo ou Orange Money, numéros +237."
KENYAN = "+254712000101"  # Safaricom's: its network's wallet is M-Pesa


async def test_a_kenyan_number_on_the_cameroonian_short_code_is_told_what_the_contest_takes(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn) -> None:
    await seed_demo(sessions)
    assert await handle(job, await receive(client, sessions, "VOTE 07 3", "ATXid_ke", sender=KENYAN)) == "refused"
    assert fake_at.texts() == [TAKES_FR]
    assert await sms_orders(sessions) == [] and fake_mtn.pay_calls == 0
    # Naming a wallet the contest takes does not make a Kenyan number payable by it.
    assert await handle(job, await receive(client, sessions, "VOTE 07 3 MTN", "ATXid_ke2", sender=KENYAN)) == "refused"
    assert fake_at.texts()[1:] == [TAKES_FR]
    assert await sms_orders(sessions) == []


async def test_m_pesa_named_on_an_mtn_orange_contest_is_told_what_the_contest_takes(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn) -> None:
    await seed_demo(sessions)
    assert await handle(job, await receive(client, sessions, "VOTE 07 2 MPESA", "ATXid_mp")) == "refused"
    await prefer_english(sessions, "+237670000002")
    await handle(job, await receive(client, sessions, "VOTE 07 2 M-PESA", "ATXid_mp_en", sender="+237670000002"))
    assert fake_at.texts() == [TAKES_FR, "This contest is paid by MTN MoMo or Orange Money, numbers +237."]
    assert await sms_orders(sessions) == []


async def test_a_new_number_asking_for_help_in_swahili_is_answered_in_swahili(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt) -> None:
    await seed_demo(sessions)  # a French contest
    assert await handle(job, await receive(client, sessions, "MSAADA", "ATXid_sw", sender="+237670000003")) == "help"
    assert await handle(job, await receive(client, sessions, "AIDE", "ATXid_fr", sender="+237670000004")) == "help"
    assert await handle(job, await receive(client, sessions, "HELP", "ATXid_en", sender="+237670000005")) == "help"
    # A word of several languages (INFO) keeps the contest's.
    assert await handle(job, await receive(client, sessions, "INFO", "ATXid_any", sender="+237670000006")) == "help"
    swahili, french, english, either = fake_at.texts()
    assert swahili.startswith("Kupiga kura, tuma VOTE <nambari> <kura> kwenda 20123")
    assert french.startswith("Pour voter, envoyez VOTE") and either == french
    assert english.startswith("To vote, send VOTE <number> <votes> to 20123")


def test_the_language_of_a_message_is_that_of_its_own_words_only() -> None:
    assert [language_of(text) for text in ("MSAADA", "kura 07 2", "Aide", "VOTER 7 x2", "HELP", "VOTE 07 3", "INFO",
                                           "TOP", "AIDE HELP")] == ["sw", "sw", "fr", "fr", "en", None, None, None,
                                                                    None]
