"""The show-night runbook (docs/show-night.md) stays true to the tree: every alert of deploy/prometheus/rules.yml has
its section, no section is left for an alert that is gone, and every `gateway …` command it tells an operator to
run exists in the CLI with the options and choices it uses. An operator following a stale runbook at 21:00 on
show night finds out the hard way."""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import yaml

from assembly.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
RUNBOOK = ROOT / "docs" / "show-night.md"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
# Commands the runbook names as still to come ("when `gateway rehearse` lands"). Once one is in the CLI, the
# runbook's "until then" must go: the test below says so.
SEPARATORS = {"|", "||", "&&", ";", ")"}
PLACEHOLDERS = {"…", "..."}


def alert_names() -> set[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def headings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#")]


def code_texts(text: str) -> Iterator[str]:
    """Each command line of the fenced blocks (continuations joined), then each inline code span of the prose."""
    prose = []
    for i, part in enumerate(re.split(r"^```[a-z]*$", text, flags=re.MULTILINE)):
        if i % 2:  # inside a fence
            yield from part.replace("\\\n", " ").splitlines()
        else:
            prose.append(part)
    yield from re.findall(r"`([^`]+)`", "\n".join(prose))


def words(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError:  # an unbalanced quote in prose: whitespace will do
        return line.split()


def gateway_invocations(text: str) -> list[list[str]]:
    """The arguments after each `gateway` (or `.venv/bin/gateway`), up to the end of its shell command."""
    found = []
    for line in code_texts(text):
        tokens = words(line)
        for at, token in enumerate(tokens):
            if token == "gateway" or token.endswith("/bin/gateway"):
                args = []
                for arg in tokens[at + 1:]:
                    if arg in SEPARATORS or arg in PLACEHOLDERS:
                        break
                    args.append(arg)
                if args:  # `gateway …` alone is the command in general
                    found.append(args)
    return found


def subparsers_of(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def problems_of(args: list[str]) -> list[str]:
    """What the CLI would refuse in `gateway ARGS`: an unknown subcommand, option or choice (values not judged)."""
    parser, path = build_parser(), ["gateway"]
    while (commands := subparsers_of(parser)) and args and not args[0].startswith("-"):
        if args[0] not in commands:
            return [f"`{' '.join(path)} {args[0]}`: no such command (the CLI has {', '.join(sorted(commands))})"]
        path.append(args[0])
        parser, args = commands[args[0]], args[1:]
    if subparsers_of(parser):
        return [f"`{' '.join(path)}` needs a subcommand"]
    options = parser._option_string_actions
    positionals = [action for action in parser._actions if not action.option_strings]
    problems, value_next, position = [], False, 0
    for arg in args:
        if value_next:
            value_next = False
        elif arg.startswith("--"):
            for option in arg.split("=")[0].split("/"):  # `--count/--reject`: either one
                if option not in options:
                    problems.append(f"`{' '.join(path)}` has no option {option}")
                elif options[option].nargs != 0 and "=" not in arg:
                    value_next = True
        elif not arg.startswith("-") and position < len(positionals):
            choices = positionals[position].choices
            if choices is not None and arg not in choices:
                problems.append(f"`{' '.join(path)}`: {arg!r} is not one of {sorted(choices)}")
            position += 1
    return problems


def test_every_alert_has_its_section_and_every_alert_section_an_alert() -> None:
    alerts = alert_names()
    titles = headings(RUNBOOK.read_text())
    named = {name for title in titles for name in re.findall(r"`([A-Z][A-Za-z]+)`", title)}
    assert alerts, "no alert read from rules.yml"
    assert sorted(alerts - named) == [], "alerts of rules.yml without a section (a heading naming it) in the runbook"
    assert sorted(named - alerts) == [], "runbook sections for alerts rules.yml no longer has"


def test_every_gateway_command_it_names_exists_in_the_cli() -> None:
    invocations = gateway_invocations(RUNBOOK.read_text())
    assert len(invocations) > 20, "the runbook's commands were not found"
    problems = [problem for args in invocations for problem in problems_of(args)]
    assert problems == []


def test_the_checker_catches_what_would_go_stale() -> None:
    """The checks above would pass on a runbook they cannot read: here they see each kind of mistake."""
    assert problems_of(["reconcile", "money", "--day", "2026-11-24"]) == []
    assert problems_of(["review", "--count/--reject", "ID", "--reason", "why"]) == []
    assert problems_of(["rehears"]) != []
    assert problems_of(["drill", "restore", "--boards", "redis://"]) != []
    assert problems_of(["reconcile", "monies"]) != []
    assert problems_of(["backup"]) != []
    assert gateway_invocations("```sh\n.venv/bin/gateway ledger verify --contest X  # all\n```\n`gateway review`") == [
        ["ledger", "verify", "--contest", "X"], ["review"]]


def test_the_readme_links_the_runbook() -> None:
    assert "docs/show-night.md" in (ROOT / "README.md").read_text()


def test_the_readme_shows_every_picture_the_browser_tests_take_and_each_is_there() -> None:
    """A picture the tests keep that the README does not show, or one it shows that is missing, is a stale README."""
    readme = (ROOT / "README.md").read_text()
    shown = set(re.findall(r"\(docs/screenshots/([\w-]+\.png)\)", readme))
    kept = {path.name for path in (ROOT / "docs" / "screenshots").glob("*.png")}
    assert shown == kept == {"contest-page.png", "candidate-page.png", "control-room.png", "overlay.png"}
