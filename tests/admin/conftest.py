"""The SMS job context (AT faked at the wire) and the app with its bot on the fake Bot API, for the tests
of the admin area's settings that every channel must honour (a sealed board); the app with Stripe faked at the
wire, for an owner's refund of a card order."""

from tests.channels.sms.conftest import job  # noqa: F401
from tests.channels.telegram.conftest import bot_client, bot_settings, fake_bot_api, telegram  # noqa: F401
from tests.payments.conftest import card_client, stripe_api, stripe_wire  # noqa: F401
