"""The addresses many people share: the mobile operators' networks of the countries served are known from the list
kept in the repository (a Cameroonian on MTN or Orange mobile data, a Nigerian on Glo), any other address is not."""

from __future__ import annotations

import pytest

from gateway.core.fraud.shared_addresses import Carrier, carrier_networks, carrier_of


@pytest.mark.parametrize(("address", "carrier"), [
    ("41.202.207.1", Carrier("CM", "ORANGE")),  # Orange Cameroun's mobile data
    ("197.210.0.1", Carrier("NG", "MTN NIGERIA Communication limited")),
    ("41.202.192.0", Carrier("CM", "ORANGE")),  # a network's first and last addresses are in it
    ("41.202.223.255", Carrier("CM", "ORANGE")),
])
def test_an_address_of_a_mobile_operator_is_known_as_shared(address: str, carrier: Carrier) -> None:
    assert carrier_of(address) == carrier


@pytest.mark.parametrize("address", ["8.8.8.8", "203.0.113.7", "41.202.224.0", "10.0.0.1", "2c0f:f8f0::1", "",
                                     None, "not an address"])
def test_any_other_address_is_one_persons(address: str | None) -> None:
    assert carrier_of(address) is None


def test_the_list_covers_the_operators_of_the_countries_served() -> None:
    networks = carrier_networks()
    countries = {carrier.country for carrier in networks.carriers}
    assert {"CM", "NG", "CI", "SN", "GH"} <= countries
    assert {c.operator for c in networks.carriers if c.country == "CM"} == {"MTN-NS-CAMEROON", "ORANGE", "Camtel"}
    assert list(networks.starts) == sorted(networks.starts)  # the lookup's bisection needs them in order
    assert all(start <= end for start, end in zip(networks.starts, networks.ends, strict=True))
