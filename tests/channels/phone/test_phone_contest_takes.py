"""What a contest takes, as the phone channels say it: its wallets and its country's prefix for a vote that cannot be
paid that way; "try again later" only for a provider that is down for a while."""

from __future__ import annotations

from channels.phone.contest_takes import takes_message
from channels.phone.texts import refusal_message
from gateway.core.market import of_country
from gateway.core.texts import Lang


def test_a_provider_not_taken_is_answered_with_what_the_contest_takes_and_a_down_one_with_later() -> None:
    takes = takes_message(Lang.FR, ["MTN MoMo", "Orange Money"], "CM")
    assert takes == "Ce concours se paie par MTN MoMo ou Orange Money, numéros +237."
    assert refusal_message(Lang.FR, "provider_not_enabled", "Gala", takes=takes) == takes
    assert refusal_message(Lang.FR, "provider_unavailable", "Gala", takes=takes) == (
        "Ce moyen de paiement est indisponible. Réessayez plus tard.")
    assert "plus tard" not in refusal_message(Lang.FR, "provider_not_enabled", "Gala")


def test_every_language_names_the_wallets_and_the_prefix() -> None:
    wallets = ["M-Pesa", "Airtel Money", "MTN MoMo"]
    assert takes_message(Lang.SW, wallets, "KE") == (
        "Shindano hili hulipwa kwa M-Pesa, Airtel Money au MTN MoMo, nambari +254.")
    assert takes_message(Lang.EN, ["M-Pesa"], "KE") == "This contest is paid by M-Pesa, numbers +254."
    assert takes_message(Lang.EN, [], "KE") == "Mobile money payment is not available for this contest."


def test_a_number_is_of_a_country_by_its_calling_code() -> None:
    assert of_country("+237670000001", "CM") and not of_country("+254712000101", "CM")
    assert of_country("+254712000101", "KE") and not of_country("+237670000001", "KE")
