"""`gateway review` lists the SMS Africa's Talking finally failed to deliver, after the orders."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from assembly.settings import Settings
from channels.sms.models import SmsMessage
from gateway.db.engine import Sessions
from tests.commands import command_env, gateway


async def test_a_final_delivery_failure_is_listed_for_a_person(client: TestClient, sessions: Sessions,
                                                               settings: Settings) -> None:
    async with sessions.begin() as session:
        session.add_all([
            SmsMessage(kind="paid", msisdn="+237670000001", text="Thank you!", at_message_id="ATXid_1", status="Sent"),
            SmsMessage(kind="prompt", msisdn="+237670000002", text="Approve", at_message_id="ATXid_2", status="Sent"),
        ])
    for at_id, status in (("ATXid_1", "Buffered"), ("ATXid_2", "Rejected")):
        form = {"id": at_id, "status": status, "phoneNumber": "+237670000001", "networkCode": "62401",
                "retryCount": "0", **({"failureReason": "UserInBlackList"} if status == "Rejected" else {})}
        assert (await client.post("/sms/africastalking/delivery", data=form)).status == 200
    env = command_env(settings)
    result = gateway("review", env=env)
    assert result.returncode == 0, result.stderr
    assert "1 SMS not delivered" in result.stdout
    assert "prompt to +237670000002 (reply): Rejected UserInBlackList" in result.stdout
    assert "+237670000001" not in result.stdout  # buffered is not final
