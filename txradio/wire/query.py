# -*- test-case-name: tests.test_query -*-
"""
A programme block's query over the library index: which songs it plays,
chosen by their artist, album, genre and year tags.

A query is written as a TOML table, e.g. C{{genre = "jazz", year =
"1990-1999"}}: every key given must match (artist I{and} genre…), a key
given a list matches any of its values (C{genre = ["jazz", "soul"]}).  A
text matches a tag holding it as whole words, whatever the case: C{"jazz"}
matches C{"Acid Jazz"} and C{"jazz"} but not C{"Jazzanova"}.  A year is one
year (C{1994}, C{"1994"}) or a range of them (C{"1990-1999"}), both ends
included; a song whose year is unknown never matches one.

Everything here is pure: L{parseQuery} checks what the configuration
says, L{matches} tells whether one song's tags match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

TEXT_KEYS = ("artist", "album", "genre")
"""The text tags a query may name."""

KEYS = (*TEXT_KEYS, "year")
"""Every key a query table may hold."""

MAX_VALUES = 50
"""Values one key of a query may list at most."""

MAX_VALUE_LENGTH = 200
"""Characters one value of a query may hold at most."""

MAX_REMEMBERED = 50000
"""Distinct tag texts a L{matcher} remembers the words of at most."""

FIRST_YEAR, LAST_YEAR = 1000, 2999
"""The years a query (or a tag) may name."""

_WORD = re.compile(r"\w+")
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_RANGE = re.compile(r"^\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?$")


def words(text: str) -> tuple[str, ...]:
    """
    @param text: a tag or a query's value.
    @return: its words, case-folded, without punctuation.
    """
    return tuple(_WORD.findall(text.casefold()))


def yearOf(text: str) -> int | None:
    """
    Read a year from a date tag.

    @param text: e.g. C{"1994"}, C{"1994-03-01"}, C{"03/1994"}.
    @return: the first four-digit year in it, or L{None}.
    """
    for found in _YEAR.findall(text):
        year = int(found)
        if FIRST_YEAR <= year <= LAST_YEAR:
            return year
    return None


def parseYears(value: object) -> tuple[int, int]:
    """
    Read a query's C{year}.

    @param value: C{1994}, C{"1994"} or C{"1990-1999"}.
    @return: the first and last years, both included.
    @raise ValueError: with what is wrong.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        first = last = value
    elif isinstance(value, str) and (match := _RANGE.match(value)) is not None:
        first = int(match[1])
        last = int(match[2] or match[1])
    else:
        raise ValueError(f'year must be a year or a range of years such as "1990-1999", not {value!r}')
    for year in (first, last):
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValueError(f"year {year} is not between {FIRST_YEAR} and {LAST_YEAR}")
    if last < first:
        raise ValueError(f"the year range {first}-{last} ends before it starts")
    return first, last


@dataclass(frozen=True, slots=True)
class TrackQuery:
    """
    Which songs a block plays.  Each field left empty matches every song.

    @ivar artists: the artists' words (any of them matches).
    @ivar albums: the albums' words.
    @ivar genres: the genres' words.
    @ivar years: the first and last years, or L{None}.
    """

    artists: tuple[tuple[str, ...], ...] = ()
    albums: tuple[tuple[str, ...], ...] = ()
    genres: tuple[tuple[str, ...], ...] = ()
    years: tuple[int, int] | None = None

    def describe(self) -> str:
        """
        @return: the query for a log line or the status, e.g. C{"genre jazz,
            year 1990-1999"}.
        """
        parts = [
            f"{name} {' or '.join(' '.join(value) for value in values)}"
            for name, values in (("artist", self.artists), ("album", self.albums), ("genre", self.genres))
            if values
        ]
        if self.years is not None:
            first, last = self.years
            parts.append(f"year {first}" if first == last else f"year {first}-{last}")
        return ", ".join(parts)


def _texts(key: str, value: object) -> tuple[tuple[str, ...], ...]:
    """
    @param key: a text key.
    @param value: a string or a list of strings.
    @return: each value's words.
    @raise ValueError: with what is wrong.
    """
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValueError(f"{key} must name at least one {key}")
    if len(values) > MAX_VALUES:
        raise ValueError(f"{key} lists {len(values)} values; at most {MAX_VALUES}")
    out = []
    for item in values:
        if not isinstance(item, str):
            raise ValueError(f"{key} must be a string or a list of strings, not {item!r}")
        if len(item) > MAX_VALUE_LENGTH:
            raise ValueError(f"{key} value is longer than {MAX_VALUE_LENGTH} characters")
        found = words(item)
        if not found:
            raise ValueError(f"{key} value {item!r} holds no letters or digits")
        out.append(found)
    return tuple(out)


def parseQuery(table: Mapping[str, object]) -> TrackQuery:
    """
    Read a block's C{query} table.

    @param table: e.g. C{{"genre": "jazz", "year": "1990-1999"}}.
    @return: the query.
    @raise ValueError: with what is wrong: an unknown key, a bad value, or
        an empty table (which would play the whole library: say so with
        the mount's own playlist instead).
    """
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} in a query; it may hold {', '.join(KEYS)}")
    if not table:
        raise ValueError(f"a query needs at least one of {', '.join(KEYS)}")
    return TrackQuery(
        artists=_texts("artist", table["artist"]) if "artist" in table else (),
        albums=_texts("album", table["album"]) if "album" in table else (),
        genres=_texts("genre", table["genre"]) if "genre" in table else (),
        years=parseYears(table["year"]) if "year" in table else None,
    )


def matcher(query: TrackQuery) -> Callable[[str, str, str, int | None], bool]:
    """
    Prepare a query for matching many songs: each value becomes a padded
    string of words (C{" acid jazz "}), searched in the tag's own padded
    words, which are remembered per distinct tag text (a library repeats
    its artists, albums and genres).

    @param query: the query.
    @return: a function of a song's artist, album, genre and year telling
        whether it matches (see L{matches}).
    """
    needles = [
        tuple(f" {' '.join(value)} " for value in values) for values in (query.artists, query.albums, query.genres)
    ]
    seen: dict[str, str] = {}

    def padded(tag: str) -> str:
        found = seen.get(tag)
        if found is None:
            if len(seen) >= MAX_REMEMBERED:
                seen.clear()
            found = seen[tag] = f" {' '.join(words(tag))} "
        return found

    def match(artist: str, album: str, genre: str, year: int | None) -> bool:
        if query.years is not None and (year is None or not query.years[0] <= year <= query.years[1]):
            return False
        for values, tag in zip(needles, (artist, album, genre), strict=True):
            if values:
                text = padded(tag)
                if not any(value in text for value in values):
                    return False
        return True

    return match


def matches(query: TrackQuery, artist: str, album: str, genre: str, year: int | None) -> bool:
    """
    Whether a song's tags match a query: every field of the query given
    matches, a text field when the tag holds one of its values as
    consecutive whole words.

    @param query: the query.
    @param artist: the song's artist tag (C{""} when unknown).
    @param album: its album tag.
    @param genre: its genre tag.
    @param year: its year, or L{None} when unknown.
    @return: L{True} when every field of the query matches.
    """
    return matcher(query)(artist, album, genre, year)
