"""A show night's orders with their ground truth: who is behind each one, honest fan or attacker.

`bench.fraud` replays them through the core and counts what the fraud rules held; a rule can only be judged
against a crowd whose truth is known, and a real night's is not. Everything here is pure and seeded (the same
seed, the same night): no clock, no file, no database.

The honest crowd is shaped after what the channels see on a Cameroonian show night: most vote by USSD, web
voters mostly sit behind a handful of mobile operators' carrier-NAT addresses (thousands of people share each),
and votes come faster towards the end. The attacks are the families the rules exist for; each family's name is
its `family` and it has its own person ids.
"""

from __future__ import annotations

import ipaddress
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

T = TypeVar("T")
CANDIDATES = tuple(f"{number:02d}" for number in range(1, 21))
HONEST = "honest"
FAMILIES = ("sim_farm", "api_flood", "stolen_cards", "telegram_many_numbers")

# Cameroon's mobile operators' networks, copied from gateway/core/fraud/data/carrier_networks.csv (country CM): a phone
# on mobile data reaches the Internet through one of these carrier-NAT addresses. Copied, not read, so that the
# crowd is pure; bench.fraud checks that the core still takes each address drawn from them for a carrier's.
CARRIER_NETWORKS = {"mtn": ("129.0.64.0/18", "154.70.96.0/19", "41.205.0.0/19"),
                    "orange": ("41.202.192.0/19", "102.244.0.0/14")}
HOME_NETWORKS = {"CM": "102.16.0.0/16", "FR": "90.8.0.0/14", "US": "73.12.0.0/14", "CA": "24.48.0.0/14",
                 "BE": "81.240.0.0/14"}  # fixed-line ISPs: one address per household
HOSTING_NETWORK = "45.61.128.0/18"  # a hosting provider's range: where scripts run
PROXY_NETWORKS = ("185.220.100.0/22", "104.28.0.0/16")  # VPN and proxy exits: where carders sit
DIASPORA = ("FR", "US", "CA", "BE")
CARD_ABROAD = ("US", "GB", "DE", "FR")
# What an honest order buys: mostly 1-5 votes, now and then a bundle.
QUANTITIES: dict[int, float] = {1: 40, 2: 18, 3: 12, 4: 5, 5: 12, 10: 8, 20: 3, 50: 1.5, 100: 0.5}
CHANNELS: dict[str, float] = {"ussd": 60, "sms": 15, "web": 15, "telegram": 10}
SLOT_SECONDS = 90.0  # a person's orders fall in distinct slots, at most 30 s into each: a minute or more apart


@dataclass(frozen=True)
class CrowdOrder:
    at: float  # seconds since the show opened (simulated time)
    family: str  # "honest" or the attack family's name
    person: str  # who is behind it (ground truth; one id per honest voter / per attacker)
    channel: str  # "ussd" | "sms" | "web" | "telegram"
    provider: str  # "mtn" | "orange" | "stripe" | "stars"
    msisdn: str | None  # E.164 payer number (+2376XXXXXXXX, Cameroon); None for card/stars payers without one
    voter_ref: str | None  # the Telegram user id for telegram orders, the browser for web pages, None for the API
    address: str | None  # client IP for web orders only (USSD/SMS/telegram have none)
    candidate: str  # "01".."20"
    quantity: int  # votes bought (1..100)
    pays: bool  # the payment succeeds
    card_country: str | None = None  # for stripe: ISO country of the card
    provider_risk: str | None = None  # for stripe: Radar's risk_level "normal" | "elevated" | "highest"
    charged_back_at: float | None = None  # simulated seconds at which the payment is disputed (stolen cards)


@dataclass(frozen=True)
class Voter:
    """What stays the same across one person's orders (the person's `at`, `candidate`, `quantity` vary)."""

    person: str
    channel: str
    provider: str
    msisdn: str | None = None
    voter_ref: str | None = None
    address: str | None = None
    card_country: str | None = None
    provider_risk: str | None = None


class Night:
    """The seeded draws a night is made of: numbers and addresses are never handed to two people by chance."""

    def __init__(self, seed: int, minutes: float) -> None:
        self.rng = random.Random(seed)
        self.end = minutes * 60
        self.given: set[str] = set()
        self.ranking = self.rng.sample(CANDIDATES, len(CANDIDATES))  # most popular first
        self.popularity = [1 / (rank + 1) ** 1.0 for rank in range(len(CANDIDATES))]  # Zipf-like
        self.nat = {operator: [self.address_in(self.rng.choice(networks)) for _ in range(n)]
                    for operator, networks, n in (("mtn", CARRIER_NETWORKS["mtn"], 3),
                                                  ("orange", CARRIER_NETWORKS["orange"], 2))}

    def number(self, operator: str) -> str:
        prefix = "+23767" if operator == "mtn" else "+23769"
        return self.fresh(lambda: f"{prefix}{self.rng.randrange(10**7):07d}")

    def address_in(self, network: str) -> str:
        net = ipaddress.IPv4Network(network)
        return self.fresh(lambda: str(net.network_address + self.rng.randrange(1, net.num_addresses - 1)))

    def browser(self) -> str:
        """A browser as the web names its voter (a digest of the cookie it was issued: channels/web/csrf.py)."""
        return self.fresh(lambda: f"browser:{self.rng.getrandbits(96):024x}")

    def telegram_user(self) -> str:
        return self.fresh(lambda: str(self.rng.randrange(10**8, 8 * 10**9)))

    def fresh(self, draw: Callable[[], str]) -> str:
        while (value := draw()) in self.given:
            pass
        self.given.add(value)
        return value

    def operator(self) -> str:
        return "mtn" if self.rng.random() < 0.55 else "orange"

    def candidate_by_popularity(self) -> str:
        return self.rng.choices(self.ranking, self.popularity)[0]

    def pick(self, weights: Mapping[T, float]) -> T:
        return self.rng.choices(list(weights), list(weights.values()))[0]


def show_night(seed: int, honest_voters: int = 5000, minutes: float = 120) -> list[CrowdOrder]:
    """Every order of the night, honest and not, by time (the crowd of seed 1 with the defaults: ~50,000)."""
    night = Night(seed, minutes)
    orders = [*honest_crowd(night, honest_voters), *sim_farm(night), *api_flood(night), *stolen_cards(night),
              *telegram_many_numbers(night)]
    return sorted((order for order in orders if order.at < night.end), key=lambda order: (order.at, order.person))


def families(orders: Iterable[CrowdOrder]) -> dict[str, list[CrowdOrder]]:
    """The orders of each family ("honest" and the attacks'), each list in the order given."""
    grouped: dict[str, list[CrowdOrder]] = {}
    for order in orders:
        grouped.setdefault(order.family, []).append(order)
    return grouped


# ---- The honest crowd -------------------------------------------------------------------------------------------

def honest_crowd(night: Night, voters: int) -> list[CrowdOrder]:
    households: list[tuple[str, int]] = []  # (address, people in it) of web voters at home
    orders: list[CrowdOrder] = []
    for number in range(1, voters + 1):
        voter = honest_voter(night, f"h{number:05d}", households)
        orders += honest_orders(night, voter)
    return orders


def honest_voter(night: Night, person: str, households: list[tuple[str, int]]) -> Voter:
    """A fan's channel and how they pay: their own number (its operator's money), Stars in Telegram, or a card."""
    channel, rng, operator = night.pick(CHANNELS), night.rng, night.operator()
    if channel in ("ussd", "sms"):
        return Voter(person, channel, operator, msisdn=night.number(operator))
    if channel == "telegram":
        if rng.random() < 0.8:
            return Voter(person, channel, "stars", voter_ref=night.telegram_user())
        return Voter(person, channel, operator, msisdn=night.number(operator), voter_ref=night.telegram_user())
    if rng.random() < 0.2:  # a web voter paying by card; a quarter of card payers are abroad
        country = rng.choice(DIASPORA) if rng.random() < 0.25 else "CM"
        risk = "elevated" if rng.random() < 0.03 else "normal"
        address = web_address(night, operator, households, abroad=None if country == "CM" else country)
        return Voter(person, channel, "stripe", address=address, card_country=country, provider_risk=risk,
                     voter_ref=night.browser())
    return Voter(person, channel, operator, msisdn=night.number(operator),
                 address=web_address(night, operator, households, abroad=None), voter_ref=night.browser())


def web_address(night: Night, operator: str, households: list[tuple[str, int]], abroad: str | None) -> str:
    """Most web voters in Cameroon are on mobile data (their operator's carrier-NAT addresses); the rest at home,
    some households of two or three people sharing one address."""
    rng = night.rng
    if abroad is not None:
        return night.address_in(HOME_NETWORKS[abroad])
    if rng.random() < 0.84:
        return rng.choice(night.nat[operator])
    if households and households[-1][1] < 3 and rng.random() < 0.35:
        address, people = households.pop()
        households.append((address, people + 1))
        return address
    households.append((night.address_in(HOME_NETWORKS["CM"]), 1))
    return households[-1][0]


def honest_orders(night: Night, voter: Voter) -> list[CrowdOrder]:
    """1 to ~15 orders (heavy-tailed: a few fans vote dozens of times), mostly for their favourite, in distinct
    slots of the show weighted towards its end; now and then a quick second vote seconds after the first."""
    rng = night.rng
    slots = int(night.end // SLOT_SECONDS)
    times = order_times(rng, slots, min(slots // 2 or 1, max(1, round(rng.lognormvariate(math.log(6.9), 0.85)))))
    favourite = night.candidate_by_popularity()
    orders = []
    for at in times:
        candidate = favourite if rng.random() < 0.85 else night.candidate_by_popularity()
        quantity = night.pick(QUANTITIES)
        order = honest_order(voter, at, candidate, quantity, pays=rng.random() >= 0.08)
        orders.append(order)
        if rng.random() < 0.03:  # "did it go through?": the same vote again, seconds later
            orders.append(replace(order, at=at + rng.uniform(5, 30), pays=rng.random() >= 0.08))
    return orders


def order_times(rng: random.Random, slots: int, wanted: int) -> list[float]:
    """`wanted` distinct slots, later ones likelier (the end of a show is its busiest part), a time in each."""
    keys = sorted(((rng.random() ** (1 / (1 + 2.5 * (slot / slots) ** 2)), slot) for slot in range(slots)),
                  reverse=True)  # weighted sampling without replacement (Efraimidis-Spirakis)
    return sorted(slot * SLOT_SECONDS + rng.uniform(0, 30) for _, slot in keys[:wanted])


def honest_order(voter: Voter, at: float, candidate: str, quantity: int, *, pays: bool) -> CrowdOrder:
    return CrowdOrder(at, HONEST, voter.person, voter.channel, voter.provider, voter.msisdn, voter.voter_ref,
                      voter.address, candidate, quantity, pays, voter.card_country, voter.provider_risk)


def attack_order(family: str, voter: Voter, at: float, candidate: str, quantity: int = 1,
                 **changes: Any) -> CrowdOrder:
    order = CrowdOrder(at, family, voter.person, voter.channel, voter.provider, voter.msisdn, voter.voter_ref,
                       voter.address, candidate, quantity, True, voter.card_country, voter.provider_risk)
    return replace(order, **changes) if changes else order


# ---- The attacks ------------------------------------------------------------------------------------------------

def sim_farm(night: Night) -> list[CrowdOrder]:
    """200 SIMs in one phone on mobile data (a carrier's NAT address, as a crowd's), 1-3 votes each for a
    mid-ranked candidate, one order every 5-20 s: ~400 orders, so some 80 minutes from a quarter into the show."""
    rng, candidate = night.rng, night.ranking[9]
    phone = Voter("sim_farm-1", "web", "mtn", address=rng.choice(night.nat["mtn"]), voter_ref=night.browser())
    uses = [number for number in (night.number("mtn") for _ in range(200)) for _ in range(rng.randint(1, 3))]
    rng.shuffle(uses)
    at, orders = night.end * 0.25, []
    for number in uses:
        at += rng.uniform(5, 20)
        orders.append(attack_order("sim_farm", phone, at, candidate, msisdn=number))
    return orders


def api_flood(night: Night) -> list[CrowdOrder]:
    """A script on a hosting provider's addresses (200, rotating), paying from its owner's 6 MTN numbers: one vote
    an order, two orders a second for ten minutes, late in the show when the race is close."""
    rng, candidate = night.rng, night.ranking[13]
    script = Voter("api_flood-1", "web", "mtn")
    addresses = [night.address_in(HOSTING_NETWORK) for _ in range(200)]
    numbers = [night.number("mtn") for _ in range(6)]
    start = night.end * 0.6
    return [attack_order("api_flood", script, start + i * 0.5 + rng.uniform(0, 0.3), candidate,
                         address=rng.choice(addresses), msisdn=rng.choice(numbers)) for i in range(1200)]


def stolen_cards(night: Night) -> list[CrowdOrder]:
    """Eight bursts of 10-15 stolen cards, each card used 1-3 times within a minute or two from one proxy address,
    for big quantities; every payment is disputed later (days, in truth; 10-60 minutes here, within the night)."""
    rng, orders = night.rng, []
    for burst in range(1, 9):
        start, length = rng.uniform(0.1, 0.85) * night.end, rng.uniform(60, 120)
        carder = Voter(f"stolen_cards-{burst}", "web", "stripe", address=night.address_in(rng.choice(PROXY_NETWORKS)),
                       voter_ref=night.browser())  # a fresh browser profile for each burst
        candidate = night.ranking[rng.randrange(3, 12)]
        for _ in range(rng.randint(10, 15)):
            country = rng.choice(CARD_ABROAD) if rng.random() < 0.85 else rng.choice(("CM", "CA", "NG"))
            risk = night.pick({"elevated": 50, "highest": 15, "normal": 35})
            for _ in range(rng.randint(1, 3)):
                at = start + rng.uniform(0, length)
                orders.append(attack_order("stolen_cards", carder, at, candidate, rng.choice((20, 25, 50, 75, 100)),
                                           card_country=country, provider_risk=risk,
                                           charged_back_at=at + rng.uniform(600, 3600)))
    return orders


def telegram_many_numbers(night: Night) -> list[CrowdOrder]:
    """One Telegram user paying mobile money from 25 numbers (2-4 orders each) for one candidate, over an hour."""
    rng, candidate = night.rng, night.ranking[6]
    user = Voter("telegram_many_numbers-1", "telegram", "mtn", voter_ref=night.telegram_user())
    uses: list[tuple[str, str]] = []
    for _ in range(25):
        operator = night.operator()
        uses += [(operator, night.number(operator))] * rng.randint(2, 4)
    rng.shuffle(uses)
    start = night.end * 0.35
    times = sorted(start + rng.uniform(0, 3600) for _ in uses)
    return [attack_order("telegram_many_numbers", user, at, candidate, provider=operator, msisdn=number)
            for at, (operator, number) in zip(times, uses, strict=True)]


def persons(orders: Sequence[CrowdOrder]) -> dict[str, list[CrowdOrder]]:
    """Each person's orders, in the order given."""
    by_person: dict[str, list[CrowdOrder]] = {}
    for order in orders:
        by_person.setdefault(order.person, []).append(order)
    return by_person

