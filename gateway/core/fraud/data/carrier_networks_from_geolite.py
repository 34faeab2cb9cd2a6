"""Regenerate `carrier_networks.csv`: the IPv4 networks of the mobile operators of the countries served, from the
GeoLite2 ASN data (MaxMind, CC BY-SA 4.0) that the `geoip2fast` package ships. Run by a person, not at run time,
in a scratch environment (the package and its 85 MiB of data stay out of the service):

    python -m venv /tmp/geo && /tmp/geo/bin/pip install geoip2fast
    cd gateway/core/fraud/data && /tmp/geo/bin/python carrier_networks_from_geolite.py > carrier_networks.csv

It walks the whole IPv4 space network by network (about half a minute) and keeps the networks whose ASN is one
of the operators below: thousands of their subscribers share each public address (carrier-grade NAT)."""

from __future__ import annotations

import csv
import ipaddress
import sys

# The operators' ASN names as GeoLite2 spells them, per country served (Cameroon, Nigeria, Côte d'Ivoire, Senegal,
# Ghana and their neighbours): mobile operators, and the incumbents whose subscribers share addresses as well.
OPERATORS: dict[str, frozenset[str]] = {
    "BF": frozenset({"Onatel", "Orange", "Telecel-Faso"}),
    "BJ": frozenset({"Spacetel", "ETISALAT BENIN"}),
    "CD": frozenset({"ORANGE-RDC", "MTN-CONGO", "VODACOM-CONGO", "AFRICELL-DRC", "CELTEL-DRC", "AIRTEL"}),
    "CF": frozenset({"ORANGE-CA", "MoovAfricaCentrafrique", "TELECEL-CENTRAFRIQUE-AS", "Orange", "ORANGE"}),
    "CG": frozenset({"airtelcg", "Celtel Nigeria Limited t.a ZAIN", "MTN-CONGO"}),
    "CI": frozenset({"MTNCI-AS", "ORANGE-COTE-IVOIRE", "ATLANTIQUE-TELECOM"}),
    "CM": frozenset({"MTN-NS-CAMEROON", "ORANGE", "Camtel"}),
    "GA": frozenset({"Gabon-Telecom", "Airtel"}),
    "GH": frozenset({"VODAFONE GHANA AS INTERNATIONAL TRANSIT", "SCANCOM", "Airtel-Ghana"}),
    "GN": frozenset({"ORANGE", "Cellcom"}),
    "ML": frozenset({"SOTELMABGP"}),
    "NE": frozenset({"ATLANTIQUE-TELECOM-NIGER", "ORANGE-NIGER"}),
    "NG": frozenset({"globacom-as", "Globacom-AS", "MTN NIGERIA Communication limited",
                     "Celtel Nigeria Limited t.a ZAIN"}),
    "SN": frozenset({"SONATEL SONATEL-AS Autonomous System", "Tigo", "SUDATEL-SENEGAL"}),
    "TD": frozenset({"MILLICOM-CHAD", "AIRTEL"}),
    "TG": frozenset({"TOGOTEL-AS TogoTelecom, Togo", "ATLANTIQUE-TELECOM"}),
}


def main() -> None:
    from geoip2fast import GeoIP2Fast  # only here: the service never loads it

    lookup = GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn.dat.gz")
    kept: set[tuple[str, str, str]] = set()
    address, end = 0, 2**32
    while address < end:
        found = lookup.lookup(str(ipaddress.IPv4Address(address)))
        networks = [c for c in (found.cidr, getattr(found, "asn_cidr", "")) if c and c != "-"]
        last = min((int(ipaddress.ip_network(c, strict=False).broadcast_address) for c in networks), default=address)
        if found.asn_name in OPERATORS.get(found.country_code, frozenset()):
            kept.add((found.asn_cidr, found.country_code, found.asn_name))
        address = max(last, address) + 1
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(("network", "country", "operator"))
    for row in sorted(kept, key=lambda row: ipaddress.ip_network(row[0])):
        out.writerow(row)


if __name__ == "__main__":
    main()
