# -*- test-case-name: tests.test_config -*-
"""
Kinds of setting: how each is written in the file, checked, described in
the reference and read from a command-line option.

A kind's L{Kind.check} takes a value from a L{Table} (or the default when
the key is absent) and returns the checked value or fails with the key;
L{Kind.describe} is the reference's type column; L{Kind.fromOption} turns
an option's text into the value the file would hold, so that the command
line is checked by the same L{Kind.check}.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from txradio.config._check import (
    CONTROL,
    MAX_TEXT,
    REQUIRED,
    Table,
    checkTable,
    knownKeys,
    show,
    typeName,
)

_ABSENT: Any = object()

_T = TypeVar("_T")
_R = TypeVar("_R")


def parsed(table: Table, key: str, parse: Callable[[_T], _R], value: _T) -> _R:
    """
    Parse a setting's value with a parser from the layer that uses it, the
    parser's L{ValueError} becoming the setting's error.

    @param table: the table the setting is in.
    @param key: its key.
    @param parse: the parser.
    @param value: what to parse.
    @return: what the parser returns.
    @raise ConfigError: when the parser raises L{ValueError}.
    """
    try:
        return parse(value)
    except ValueError as error:
        table.fail(key, str(error))
        raise AssertionError("unreachable") from error  # pragma: no cover


def checked(table: Table, key: str, check: Callable[[_T], object], value: _T) -> _T:
    """
    Check a setting's value with a parser from the layer that uses it, and
    keep the value as it was given (the layer parses it again when used).

    @param table: the table the setting is in.
    @param key: its key.
    @param check: the parser.
    @param value: what to check.
    @return: C{value}.
    @raise ConfigError: when the parser raises L{ValueError}.
    """
    parsed(table, key, check, value)
    return value


class Kind:
    """
    The base of every kind: a required setting must be there, an absent
    optional one takes its default, a present one goes to L{value}.
    """

    def check(self, table: Table, key: str, default: Any) -> Any:
        """
        Check a setting.

        @param table: the table it is in.
        @param key: its key.
        @param default: its value when absent, or L{REQUIRED}.
        @return: the checked value.
        @raise ConfigError: when it is wrong, or required and absent.
        """
        value = table.data.get(key, _ABSENT)
        if value is _ABSENT:
            if default is REQUIRED:
                table.fail(key, "is required")
            return default
        return self.value(table, key, value)

    def value(self, table: Table, key: str, value: Any) -> Any:
        """
        Check a value the table holds.

        @param table: the table.
        @param key: the key.
        @param value: what the file says.
        @return: the checked value.
        @raise ConfigError: when it is wrong.
        """
        raise NotImplementedError()

    def describe(self) -> str:
        """
        @return: the type (and range) for the reference, e.g. C{"string"}.
        """
        raise NotImplementedError()

    def fromOption(self, text: str) -> Any:
        """
        Read an option's text as the value the file would hold.

        @param text: the option's argument.
        @return: the value, checked afterwards by L{check}.
        @raise ValueError: when the text cannot be such a value; its
            message says what is expected.
        """
        return text


def _numberWithin(table: Table, key: str, value: Any, expected: str, within: Callable[[float], bool]) -> float:
    """
    Check a number (an integer or a float) a table holds.

    @param table: the table.
    @param key: the key.
    @param value: what the file says.
    @param expected: what is expected, for the message.
    @param within: whether a finite number is in the allowed range.
    @return: the number, as a float.
    @raise ConfigError: when it is not a finite number in the range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        table.fail(key, f"must be {expected}, not {typeName(value)} ({show(value)})")
    if isinstance(value, int) and value.bit_length() > 64:
        table.fail(key, f"must be {expected}, not {show(value)}")
    number = float(value)
    if not math.isfinite(number) or not within(number):
        table.fail(key, f"must be {expected}, not {show(value)}")
    return number


def _number(text: str, convert: type, expected: str) -> Any:
    """
    Read a number from an option's text.

    @param text: the text.
    @param convert: C{int} or C{float}.
    @param expected: what is expected, for the message.
    @return: the number (its range is checked with the file's rules).
    @raise ValueError: when the text is not such a number.
    """
    try:
        return convert(text)
    except ValueError:
        raise ValueError(f"must be {expected}, not {text!r}") from None


class Text(Kind):
    """
    A string without control characters, at most L{MAX_TEXT} long.

    @ivar allowEmpty: whether C{""} (or only spaces) is allowed.
    @ivar emptyHint: what to say after "must not be empty".
    """

    def __init__(self, allowEmpty: bool = True, emptyHint: str = "") -> None:
        self.allowEmpty = allowEmpty
        self.emptyHint = emptyHint

    def value(self, table: Table, key: str, value: Any) -> str:
        if not isinstance(value, str):
            table.fail(key, f"must be a string, not {typeName(value)} ({show(value)})")
        if not self.allowEmpty and not value.strip():
            table.fail(key, "must not be empty" + (f"; {self.emptyHint}" if self.emptyHint else ""))
        if len(value) > MAX_TEXT:
            table.fail(key, f"is {len(value)} characters long; the most allowed is {MAX_TEXT}")
        if CONTROL.search(value):
            table.fail(key, f"must not contain control characters or line breaks: {show(value)}")
        return value

    def describe(self) -> str:
        return "string" if self.allowEmpty else "string, not empty"


class User(Text):
    """
    An HTTP Basic user name: not empty, without C{:}.
    """

    def __init__(self) -> None:
        Text.__init__(self, allowEmpty=False)

    def value(self, table: Table, key: str, value: Any) -> str:
        user = Text.value(self, table, key, value)
        if ":" in user:
            table.fail(key, f"must not contain ':' (HTTP Basic authentication cannot carry it): {show(user)}")
        return user

    def describe(self) -> str:
        return "string, without `:`"


class Flag(Kind):
    """
    C{true} or C{false}.
    """

    def value(self, table: Table, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            table.fail(key, f"must be true or false, not {typeName(value)} ({show(value)})")
        return value

    def describe(self) -> str:
        return "boolean"


class Integer(Kind):
    """
    A whole number in a range (booleans and floats are not).

    @ivar minimum: the smallest value allowed.
    @ivar maximum: the largest, or L{None} for no limit.
    @ivar unit: what it counts, e.g. C{"bytes"}, or C{""}.
    """

    def __init__(self, minimum: int, maximum: int | None = None, unit: str = "") -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.unit = unit

    def expected(self) -> str:
        """
        @return: e.g. C{"a whole number from 1 to 1048576 bytes"}.
        """
        units = f" {self.unit}" if self.unit else ""
        if self.maximum is None:
            return f"a whole number of at least {self.minimum}{units}"
        return f"a whole number from {self.minimum} to {self.maximum}{units}"

    def value(self, table: Table, key: str, value: Any) -> int:
        # bool is a subclass of int: true must not pass for 1.
        if isinstance(value, bool) or not isinstance(value, int):
            table.fail(key, f"must be {self.expected()}, not {typeName(value)} ({show(value)})")
        if value < self.minimum or (self.maximum is not None and value > self.maximum):
            table.fail(key, f"must be {self.expected()}, not {show(value)}")
        return value

    def describe(self) -> str:
        units = f" ({self.unit})" if self.unit else ""
        if self.maximum is None:
            return f"integer{units}, at least {self.minimum}"
        return f"integer{units}, {self.minimum} to {self.maximum}"

    def fromOption(self, text: str) -> int:
        return _number(text, int, self.expected())


class Seconds(Kind):
    """
    A duration: an integer or a float, more than 0 (or at least 0) and at
    most a limit.

    @ivar maximum: the longest allowed, in seconds.
    @ivar allowZero: whether 0 is allowed (none at all, e.g. no grace).
    """

    def __init__(self, maximum: float, allowZero: bool = False) -> None:
        self.maximum = maximum
        self.allowZero = allowZero

    def value(self, table: Table, key: str, value: Any) -> float:
        expected = f"a number of seconds {self._least()} and at most {self.maximum:g}"

        def fits(seconds: float) -> bool:
            return (seconds >= 0 if self.allowZero else seconds > 0) and seconds <= self.maximum

        return _numberWithin(table, key, value, expected, fits)

    def _least(self) -> str:
        return "at least 0" if self.allowZero else "more than 0"

    def describe(self) -> str:
        return f"number (seconds), {self._least()}, at most {self.maximum:g}"

    def fromOption(self, text: str) -> float:
        return _number(text, float, "a number of seconds")


class Level(Kind):
    """
    A number (integer or float) in a closed range, with a unit: a level in
    LUFS or dB.

    @ivar minimum: the smallest value allowed.
    @ivar maximum: the largest value allowed.
    @ivar unit: e.g. C{"LUFS"}.
    """

    def __init__(self, minimum: float, maximum: float, unit: str) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.unit = unit

    def value(self, table: Table, key: str, value: Any) -> float:
        expected = f"a number from {self.minimum:g} to {self.maximum:g} {self.unit}"
        return _numberWithin(table, key, value, expected, lambda level: self.minimum <= level <= self.maximum)

    def describe(self) -> str:
        return f"number ({self.unit}), {self.minimum:g} to {self.maximum:g}"

    def fromOption(self, text: str) -> float:
        return _number(text, float, f"a number of {self.unit}")


class Choice(Text):
    """
    One of a few words.

    @ivar choices: the words allowed.
    """

    def __init__(self, choices: tuple[str, ...]) -> None:
        Text.__init__(self)
        self.choices = choices

    def value(self, table: Table, key: str, value: Any) -> str:
        word = Text.value(self, table, key, value)
        if word not in self.choices:
            table.fail(key, f"must be one of {', '.join(self.choices)}, not {show(word)}")
        return word

    def describe(self) -> str:
        words = [f'`"{c}"`' for c in self.choices]
        return f"{', '.join(words[:-1])} or {words[-1]}"


class Among(Integer):
    """
    A whole number from a list (sample rates, bitrates).

    @ivar values: the numbers allowed.
    @ivar expectation: what the message says is expected.
    """

    def __init__(self, values: tuple[int, ...], expectation: str, unit: str = "") -> None:
        Integer.__init__(self, min(values), max(values), unit)
        self.values = values
        self.expectation = expectation

    def expected(self) -> str:
        return self.expectation

    def value(self, table: Table, key: str, value: Any) -> int:
        if isinstance(value, bool) or value not in self.values:
            table.fail(key, f"must be {self.expectation}, not {show(value)}")
        return value

    def describe(self) -> str:
        units = f" ({self.unit})" if self.unit else ""
        return f"integer{units}: {', '.join(map(str, self.values))}"


class Endpoints(Kind):
    """
    Endpoint strings: one string or an array of them.  Only basic checks
    are made; the reactor parses the syntax when the server starts.

    @ivar allowEmpty: whether an empty array is allowed.
    """

    example = 'e.g. "tcp:8000" or ["tcp:8000", "tcp6:8000"]'

    def __init__(self, allowEmpty: bool) -> None:
        self.allowEmpty = allowEmpty

    def value(self, table: Table, key: str, value: Any) -> tuple[str, ...]:
        example = self.example
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            table.fail(key, f"must be an endpoint string or an array of them ({example}), not {typeName(value)}")
        if not value and not self.allowEmpty:
            table.fail(key, f"must name at least one endpoint ({example})")
        seen: list[str] = []
        for index, item in enumerate(value, 1):
            where = table.itemIndex(key, index)
            if not isinstance(item, str):
                table.fail(key, f"must be an endpoint string ({example}), not {typeName(item)} ({show(item)})", where)
            description = item.strip()
            if not description:
                table.fail(key, f"must not be empty ({example})", where)
            if CONTROL.search(item) or len(item) > MAX_TEXT:
                table.fail(key, f"is not an endpoint string: {show(item)}", where)
            if description in seen:
                table.fail(key, f"{show(description)} is listed twice", where)
            seen.append(description)
        return tuple(seen)

    def describe(self) -> str:
        return "endpoint string or array of them" + ("" if self.allowEmpty else ", at least one")

    def fromOption(self, text: str) -> list[str]:
        return [text]


class Strings(Kind):
    """
    An array of strings without control characters.
    """

    def value(self, table: Table, key: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            table.fail(key, f"must be an array of strings, not {show(value)}")
        for item in value:
            if CONTROL.search(item) or len(item) > MAX_TEXT:
                table.fail(key, f"holds control characters or is too long: {show(item)}")
        return tuple(value)

    def describe(self) -> str:
        return "array of strings"


class Words(Strings):
    """
    Words from a list: one, or an array of them; at least one.

    @ivar choices: the words allowed.
    """

    def __init__(self, choices: tuple[str, ...]) -> None:
        self.choices = choices

    def check(self, table: Table, key: str, default: Any) -> tuple[str, ...]:
        if table.data.get(key) in (None, []):
            table.fail(key, f"is required: some of {', '.join(self.choices)}")
        return Kind.check(self, table, key, default)

    def value(self, table: Table, key: str, value: Any) -> tuple[str, ...]:
        words = Strings.value(self, table, key, value) if isinstance(value, list) else (value,)
        for word in words:
            if word not in self.choices:
                table.fail(key, f"{show(word)} is not one of {', '.join(self.choices)}")
        return tuple(words)

    def describe(self) -> str:
        return "string or array of strings"


class Counts(Kind):
    """
    An array of whole numbers from 1 to 1000000, kept sorted and without
    repeats.
    """

    def value(self, table: Table, key: str, value: Any) -> tuple[int, ...]:
        if not isinstance(value, list) or not all(
            isinstance(item, int) and not isinstance(item, bool) and 0 < item <= 1_000_000 for item in value
        ):
            table.fail(key, f"must be an array of whole numbers from 1 to 1000000, not {show(value)}")
        return tuple(sorted(set(value)))

    def describe(self) -> str:
        return "array of whole numbers"


class SubTable(Kind):
    """
    A table of settings declared by another value class.

    @ivar cls: the value class.
    @ivar example: how to write it, for the message.
    """

    def __init__(self, cls: type, example: str) -> None:
        self.cls = cls
        self.example = example

    def value(self, table: Table, key: str, value: Any) -> Any:
        if not isinstance(value, dict):
            table.fail(key, f"must be a table ({self.example}), not {typeName(value)}")
        return self.cls(**checkTable(self.cls, table.child(key, value, knownKeys(self.cls))))

    def describe(self) -> str:
        return "table"
