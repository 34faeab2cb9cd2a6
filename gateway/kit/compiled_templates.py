"""Templates compiled once a process, not once an app: each app (the web's pages, the admin area's) builds its own
jinja2 Environment, whose templates jinja2 parses and compiles to Python again at their first use, tens of
milliseconds a template (a test builds hundreds of apps; a web process builds one, and gains nothing).

jinja2's own mechanism (`bytecode_cache`), kept in memory: an Environment given one loads a template's compiled
code from it when the template's source is the one that was compiled (jinja2 compares a checksum of the source it
has just read), and compiles afresh otherwise, so an edited template shows as it did without the cache."""

from __future__ import annotations

import jinja2
from jinja2.bccache import Bucket


class CompiledTemplates(jinja2.BytecodeCache):
    """Compiled templates by jinja2's key (a template's name and file). The compiled code depends on the
    Environment's options (autoescape, trim_blocks...), which the key does not tell: one cache for one setup of an
    Environment, each of which uses its own."""

    def __init__(self) -> None:
        self._compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        stored = self._compiled.get(bucket.key)
        if stored is not None:
            bucket.bytecode_from_string(stored)  # left empty when the source has changed since: compiled again

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._compiled[bucket.key] = bucket.bytecode_to_string()

    def clear(self) -> None:
        self._compiled.clear()
