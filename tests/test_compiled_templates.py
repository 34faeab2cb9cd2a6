"""Templates compiled once a process (gateway/kit/compiled_templates.py) still show as their files say: a template
edited on disk renders edited in the next app's Environment and in the running one's, as without the cache."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2

from gateway.kit.compiled_templates import CompiledTemplates


def environment(folder: Path, compiled: CompiledTemplates) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(folder), bytecode_cache=compiled, autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def test_an_edited_template_renders_edited_in_every_app(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("{% if votes %}\n<p>{{ votes }} votes for {{ name }}</p>\n{% endif %}\n")
    compiled = CompiledTemplates()
    first = environment(tmp_path, compiled)
    assert first.get_template("page.html").render(votes=3, name="<Ada>") == "<p>3 votes for &lt;Ada&gt;</p>\n"
    second = environment(tmp_path, compiled)  # the next app: the same output from the code compiled for the first
    assert second.get_template("page.html").render(votes=3, name="<Ada>") == "<p>3 votes for &lt;Ada&gt;</p>\n"

    page.write_text("<p>{{ name }} has {{ votes }}</p>\n")
    later = page.stat().st_mtime + 2
    os.utime(page, (later, later))  # a later time than the first read, whatever the clock's grain
    assert first.get_template("page.html").render(votes=4, name="Ada") == "<p>Ada has 4</p>"
    assert environment(tmp_path, compiled).get_template("page.html").render(votes=5, name="Ada") == "<p>Ada has 5</p>"
