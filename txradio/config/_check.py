# -*- test-case-name: tests.test_config -*-
"""
The checking toolkit: L{ConfigError}, one table of a document being checked
(L{Table}), and how a setting is declared on a value class (L{setting}) and
checked from it (L{checkTable}).

A setting is a dataclass field whose metadata holds a L{Setting}: its kind
(how it is written and checked, see L{txradio.config.kinds}), what it does,
and the command-line option that sets it, if any.  Its key in the file is
the field's name in C{snake_case} (C{sourcePassword} is C{source_password})
unless the declaration names another.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

MAX_TEXT = 1024
"""The most characters accepted in one text setting (names, passwords…)."""

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""Characters no text setting may hold: they would end up in HTTP headers."""

_BARE_KEY = re.compile("[A-Za-z0-9_-]+")

_TYPE_NAMES = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a float"),
    (str, "a string"),
    (list, "an array"),
    (dict, "a table"),
)


class ConfigError(ValueError):
    """
    A bad configuration.

    C{str(error)} is one line an operator can act on: the file, then the
    key path (C{server.listen}, C{mount[2].push.password}; C{[[mount]]}
    tables count from 1) or, for a TOML syntax error, tomllib's message with
    its line and column, then what is wrong and what is expected.

    @ivar file: the configuration file's path, or C{"<config>"} for text
        that did not come from a file.
    @ivar key: the key path the problem is at, or L{None} when it is not
        about one key (a syntax error, an unreadable file).
    @ivar problem: what is wrong, without the file and key.
    """

    def __init__(self, file: str, problem: str, key: str | None = None) -> None:
        """
        @param file: the configuration file's path.
        @param problem: what is wrong and what is expected.
        @param key: the key path, if the problem is at one key.
        """
        self.file = file
        self.key = key
        self.problem = problem
        where = f"{file}: {key}: " if key is not None else f"{file}: "
        # One line, whatever the pieces held.
        ValueError.__init__(self, " ".join((where + problem).splitlines()))


def typeName(value: object) -> str:
    """
    Name a TOML value's type the way the file spells it.

    @param value: a value tomllib produced.
    @return: e.g. C{"a boolean"}.
    """
    # bool before int: true is not a number here.
    return next((name for kind, name in _TYPE_NAMES if isinstance(value, kind)), "a date or time")


def show(value: object) -> str:
    """
    Show a value from the file in a message: short, on one line, and safe
    for huge integers (which C{str} refuses to convert).

    @param value: the value.
    @return: its text.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 64 else "a very large number"
    if isinstance(value, str):
        text = repr(value[:60])
        return text if len(value) <= 60 else text[:-1] + "…" + text[-1]
    if isinstance(value, float):
        return repr(value)
    return typeName(value)


def keyText(key: str) -> str:
    """
    Write a key for a key path, quoting it when TOML would.

    @param key: the key.
    @return: e.g. C{metaint} or C{"odd key"}.
    """
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)


def snakeCase(name: str) -> str:
    """
    The file's spelling of a field name.

    @param name: a field name, e.g. C{"sourcePassword"} or C{"publicURL"}.
    @return: e.g. C{"source_password"} or C{"public_url"}.
    """
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


REQUIRED: Any = dataclasses.MISSING
"""The default of a setting the file must give."""


@dataclass(frozen=True)
class Setting:
    """
    What a field declares about the setting it holds.

    @ivar kind: how it is written and checked (a L{txradio.config.kinds}
        kind).
    @ivar help: what it does, in one sentence (the command line's help and
        the reference's first sentence).
    @ivar doc: more for the reference (docs/config.md), or C{""}.
    @ivar option: the command-line option that sets it, without C{--}, or
        L{None}.
    @ivar short: the option's one-letter form, or L{None}.
    @ivar key: its key in the file; L{None} for the field's name in
        C{snake_case}.
    @ivar shown: how the reference and the option's help show the default,
        or L{None} to write the default as TOML.
    @ivar required: whether the file must give it even though the value
        class has a default (for a field after fields with defaults).
    """

    kind: Any
    help: str
    doc: str = ""
    option: str | None = None
    short: str | None = None
    key: str | None = None
    shown: str | None = None
    required: bool = False


def setting(default: Any = REQUIRED, **declaration: Any) -> Any:
    """
    Declare a setting as a dataclass field.

    @param default: the value when the file leaves it out; L{REQUIRED}
        (the default) for a setting the file must give.
    @param declaration: the L{Setting}'s attributes (C{kind}, C{help}, and
        optionally C{doc}, C{option}, C{short}, C{key}, C{shown},
        C{required}).
    @return: the field.
    """
    return dataclasses.field(default=default, metadata={"setting": Setting(**declaration)})


@dataclass(frozen=True)
class Declared:
    """
    One declared setting of a value class, as the checker and the
    reference see it.

    @ivar name: the field's name, e.g. C{"sourcePassword"}.
    @ivar key: its key in the file, e.g. C{"source_password"}.
    @ivar default: its default, or L{REQUIRED}.
    @ivar setting: its declaration.
    """

    name: str
    key: str
    default: Any
    setting: Setting


def declared(cls: type) -> tuple[Declared, ...]:
    """
    The settings a value class declares, in field order.

    @param cls: a dataclass whose fields were made by L{setting}.
    @return: one L{Declared} per field.
    """
    found = []
    for field in dataclasses.fields(cls):
        declaration = field.metadata["setting"]
        default = REQUIRED if declaration.required else field.default
        found.append(Declared(field.name, declaration.key or snakeCase(field.name), default, declaration))
    return tuple(found)


def knownKeys(cls: type) -> tuple[str, ...]:
    """
    @param cls: a value class.
    @return: the keys its table may have, sorted.
    """
    return tuple(sorted(d.key for d in declared(cls)))


class Table:
    """
    One table of the document being checked, with its key path.

    @ivar file: the file's path, for errors.
    @ivar prefix: the table's key path, e.g. C{"mount[2]"}, or C{""} for the
        top level.
    @ivar data: the table.
    @ivar base: the folder relative paths are resolved against.
    """

    def __init__(self, file: str, prefix: str, data: dict[str, Any], known: tuple[str, ...], base: str = ".") -> None:
        """
        @param file: the file's path.
        @param prefix: the table's key path.
        @param data: the table as tomllib gave it.
        @param known: the keys it may have.
        @param base: the folder relative paths are resolved against.
        @raise ConfigError: for a key it may not have.
        """
        self.file = file
        self.prefix = prefix
        self.data = data
        self.base = base
        # Unknown keys first: a misspelt key is the likeliest cause of any
        # other complaint ("live but no source_password").
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"did you mean {close[0]}? " if close else ""
                self.fail(key, f"unknown key; {hint}known keys: {', '.join(known)}")

    def path(self, key: str | None = None, index: int | None = None) -> str | None:
        """
        @param key: a key of this table, or L{None} for the table itself.
        @param index: the position (from 1) of an item of the key's array,
            or L{None} for the whole value.
        @return: its key path, or L{None} for the top level itself.
        """
        if key is None:
            return self.prefix or None
        path = f"{self.prefix}.{keyText(key)}" if self.prefix else keyText(key)
        return path if index is None else f"{path}[{index}]"

    def fail(self, key: str | None, problem: str, index: int | None = None) -> None:
        """
        Reject a setting.

        @param key: the key, or L{None} for the whole table.
        @param problem: what is wrong and what is expected.
        @param index: the position (from 1) of the item at fault in the
            key's array, or L{None}.
        @raise ConfigError: always.
        """
        raise ConfigError(self.file, problem, self.path(key, index))

    def itemIndex(self, key: str, index: int) -> int | None:
        """
        How to name an item of a value that may be one string or an array.

        @param key: the key.
        @param index: the item's position, from 1.
        @return: C{index} when the file wrote an array, L{None} when it wrote
            a single value.
        """
        return index if isinstance(self.data.get(key), list) else None

    def has(self, key: str) -> bool:
        """
        @param key: a key.
        @return: whether the table sets it.
        """
        return key in self.data

    def child(self, key: str, data: dict[str, Any], known: tuple[str, ...]) -> Table:
        """
        A table inside this one.

        @param key: its key here.
        @param data: its contents.
        @param known: the keys it may have.
        @return: the table, with its key path.
        @raise ConfigError: for a key it may not have.
        """
        return Table(self.file, self.path(key) or key, data, known, self.base)


def checkTable(cls: type, table: Table) -> dict[str, Any]:
    """
    Check every declared setting of a table, in declaration order.

    @param cls: the value class whose fields declare the settings.
    @param table: the table, its unknown keys already refused.
    @return: the checked values by field name, defaults filled in; the
        caller applies the cross-field rules and makes the value.
    @raise ConfigError: for the first bad setting.
    """
    return {d.name: d.setting.kind.check(table, d.key, d.default) for d in declared(cls)}
