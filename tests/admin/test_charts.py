"""The dashboard's charts as inline SVG, from figures alone: bars in proportion, labels escaped, no script."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from admin.charts import BAR_WIDTH, bar_chart, gauge

SVG = "{http://www.w3.org/2000/svg}"


def bars(svg: str) -> list[int]:
    return [int(rect.get("width", "0")) for rect in ET.fromstring(svg).iter(f"{SVG}rect")]


def test_bars_are_in_proportion_to_the_largest_value_and_show_their_numbers() -> None:
    svg = bar_chart("Votes by channel", [("ussd", 40), ("sms", 10), ("web", 0)])
    assert bars(svg) == [BAR_WIDTH, BAR_WIDTH // 4, 0]
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert texts == ["ussd", "40", "sms", "10", "web", "0"]
    assert ET.fromstring(svg).find(f"{SVG}title").text == "Votes by channel"  # type: ignore[union-attr]


def test_labels_are_escaped_and_nothing_runs() -> None:
    svg = bar_chart("<b>x</b>", [("<script>alert(1)</script>", 3)])
    assert "<script>" not in svg and "<b>" not in svg
    assert not re.search(r"\son\w+=", svg)


def test_an_empty_chart_and_a_rate_are_still_valid_svg() -> None:
    assert bars(bar_chart("Nothing yet", [])) == []
    assert bars(gauge("Payment success rate", 0.5)) == [BAR_WIDTH, BAR_WIDTH // 2]
    assert "50.0 %" in gauge("Payment success rate", 0.5)
    assert bars(gauge("Payment success rate", None)) == [BAR_WIDTH, 0]


def test_a_long_label_is_shortened_between_words_with_an_ellipsis() -> None:
    from admin.charts import bar_chart, shortened

    assert shortened("Pas assez d'argent sur le compte") == "Pas assez…"
    assert shortened("Short reason") == "Short reason"
    chart = bar_chart("Causes", [("Le paiement a été refusé par l'opérateur", 3)])
    assert "Le paiement a été…</text>" in chart  # never "Le paiement a été r"
