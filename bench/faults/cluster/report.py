"""The cluster scenario's printout and its section of bench/RESULTS.md: the figures of the whole run, then a table
with a row per fault run, then the machine (bench/harness.py's line, as every section has)."""

from __future__ import annotations

from bench.harness import machine

TITLE = "Failover (PostgreSQL on Patroni, Redis with Sentinel)"
COLUMNS = ("fault", "promoted", "healed after", "votes asked meanwhile", "votes taken again",
           "board frames resumed", "alerts fired")


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(rows: list[dict[str, str]], figures: dict[str, str], heading: str, intro: str) -> str:
    """A run's block, under the section's own heading (its `### heading`: several runs, e.g. at two rates)."""
    lines = [f"### {heading}", "", intro, ""]
    lines += [f"- **{key}**: {value}" for key, value in figures.items()]
    lines += ["", "| " + " | ".join(COLUMNS) + " | what else it saw |", "|" + "---|" * (len(COLUMNS) + 1)]
    for found in rows:
        promoted = found.get("promoted") or found.get("sentinels named") or found.get("the third node meanwhile", "")
        others = "; ".join(f"{key}: {value}" for key, value in found.items()
                           if key not in COLUMNS and key not in ("sentinels named", "the third node meanwhile"))
        lines.append("| " + " | ".join(cell(text) for text in (
            found["fault"], promoted, found["healed after"],
            found["votes asked meanwhile"] + f" ({found['their answers']})",
            found["votes taken again"], found["board frames resumed"], found["alerts fired"], others)) + " |")
    lines += ["", "Machine: " + "; ".join(f"{key} {value}" for key, value in machine().items()), ""]
    return "\n".join(lines)


def printed(rows: list[dict[str, str]], figures: dict[str, str]) -> None:
    print(f"\n{TITLE}")
    for found in rows:
        print()
        for key, value in found.items():
            print(f"  {key:<28} {value}")
    print()
    width = max(len(key) for key in figures)
    for key, value in figures.items():
        print(f"  {key.ljust(width)}  {value}")
