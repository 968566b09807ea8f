# -*- test-case-name: tests.test_schedule_config -*-
"""
The programme clock's settings: a mount's C{[[mount.block]]} tables, its
C{[mount.jingles]} table, and the rotation rules (C{[server.rotation]}, or a
block's own C{rotation}).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from txradio.config._check import Table, checkTable, knownKeys, setting, show, typeName
from txradio.config.kinds import Choice, Flag, Integer, Kind, SubTable, Text, checked, parsed
from txradio.config.places import Folder, MountPath, Playlist
from txradio.wire.query import TrackQuery, parseQuery
from txradio.wire.schedule import Rotation, parseWhen

MAX_SEPARATION = 100000
"""The largest rotation distance accepted, in minutes or tracks."""


class When(Text):
    """
    Days and a time range, e.g. C{"Mon-Fri 06:00-10:00"}.
    """

    def __init__(self) -> None:
        Text.__init__(self, allowEmpty=False)

    def value(self, table: Table, key: str, value: Any) -> str:
        return checked(table, key, parseWhen, Text.value(self, table, key, value))

    def describe(self) -> str:
        return 'string, e.g. "Mon-Fri 06:00-10:00"'


class TimeZone(Text):
    """
    An IANA time zone name known to C{zoneinfo}, e.g. C{"Europe/Paris"}.
    """

    def __init__(self) -> None:
        Text.__init__(self, allowEmpty=False)

    def value(self, table: Table, key: str, value: Any) -> str:
        from zoneinfo import ZoneInfo

        text = Text.value(self, table, key, value)
        try:
            ZoneInfo(text)
        except (ValueError, OSError, LookupError):
            table.fail(key, f'{show(text)} is not a time zone known here, such as "Europe/Paris" or "UTC"')
        return text

    def describe(self) -> str:
        return "string (IANA time zone)"


class Query(Kind):
    """
    A query over the library index, e.g. C{{genre = "jazz", year =
    "1990-1999"}}; the value is a L{TrackQuery}.
    """

    def value(self, table: Table, key: str, value: Any) -> TrackQuery:
        if not isinstance(value, dict):
            table.fail(key, f'must be a table such as {{ genre = "jazz", year = "1990-1999" }}, not {typeName(value)}')
        return parsed(table, key, parseQuery, value)

    def describe(self) -> str:
        return "table (artist, album, genre, year)"


class SubTables(Kind):
    """
    An array of tables of settings declared by another value class.

    @ivar cls: the value class.
    @ivar example: how to write one, for the message.
    """

    def __init__(self, cls: type, example: str) -> None:
        self.cls = cls
        self.example = example

    def value(self, table: Table, key: str, value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            table.fail(key, f"must be an array of tables ({self.example}), not {typeName(value)}")
        items = []
        for index, item in enumerate(value, 1):
            if not isinstance(item, dict):
                table.fail(key, f"item {index} must be a table ({self.example}), not {typeName(item)}")
            child = table.child(f"{key}[{index}]", item, knownKeys(self.cls))
            items.append(self.cls(**checkTable(self.cls, child)))
        return tuple(items)

    def describe(self) -> str:
        return "array of tables"


@dataclass(frozen=True, slots=True)
class RotationConfig:
    """
    Rotation rules: C{[server.rotation]}, or a block's C{rotation}.  Zero
    turns a rule off.
    """

    artistMinutes: int = setting(
        0, kind=Integer(0, MAX_SEPARATION, "minutes"), help="No artist again within this many minutes."
    )
    artistTracks: int = setting(
        0, kind=Integer(0, MAX_SEPARATION, "tracks"), help="No artist again within this many tracks."
    )
    titleMinutes: int = setting(
        0, kind=Integer(0, MAX_SEPARATION, "minutes"), help="No title again within this many minutes."
    )
    titleTracks: int = setting(
        0, kind=Integer(0, MAX_SEPARATION, "tracks"), help="No title again within this many tracks."
    )

    def rules(self) -> Rotation:
        """
        @return: the rules as L{txradio.wire.schedule} takes them.
        """
        return Rotation(self.artistMinutes, self.artistTracks, self.titleMinutes, self.titleTracks)


@dataclass(frozen=True, slots=True)
class BlockConfig:
    """
    A block of the programme clock: a C{[[mount.block]]} table.  Exactly
    one of C{folder}, C{playlist}, C{query} and C{recordings} is set.
    """

    when: str = setting(
        kind=When(),
        help='When it is on, in the station\'s time zone: days and a time range, e.g. `"Mon-Fri 06:00-10:00"`.',
        doc="Days: `Mon`…`Sun`, ranges (`Mon-Fri`, `Fri-Mon`), lists (`Sat,Sun`), `daily`, `weekdays`, "
        "`weekends`. A range ending at or before its start runs past midnight (`Fri 22:00-02:00`). "
        "Where blocks overlap, the first in the file wins.",
    )
    name: str = setting("", kind=Text(), help="Its name, for the logs and the schedule.", shown="its `when`")
    folder: str | None = setting(None, kind=Folder(), help="A folder of music it plays.")
    playlist: str | None = setting(None, kind=Playlist(), help="An .m3u playlist (or a folder) it plays.")
    recordings: str | None = setting(
        None,
        kind=MountPath(),
        help='Re-air the recorded shows of this mount (one with `record = true`), e.g. `"/stream"`.',
        doc="Each recording's cue sheet gives the titles announced while it plays. See docs/shows.md.",
    )
    show: str | None = setting(
        None,
        kind=Text(allowEmpty=False),
        help="With `recordings`: only this show's (DJ's) recordings.",
        shown="every show",
    )
    pick: str = setting(
        "latest",
        kind=Choice(("latest", "rotation")),
        help="With `recordings`: `latest` plays the newest show; `rotation` every show in turn, oldest first.",
    )
    query: TrackQuery | None = setting(
        None,
        kind=Query(),
        help='The library\'s songs it plays, by their tags: e.g. `{ genre = "jazz", year = "1990-1999" }`.',
        doc="Keys `artist`, `album`, `genre` (a string or a list of strings, any of which matches; a tag "
        'matches when it holds the words, whatever the case) and `year` (`1994` or `"1990-1999"`). '
        "Every key given must match. Needs the library (`[server] library`).",
    )
    shuffle: bool = setting(False, kind=Flag(), help="Play its tracks in a random order.")
    start: str = setting(
        "soft",
        kind=Choice(("soft", "hard")),
        help="`hard`: cut the track playing at the block's start; `soft`: start after it ends.",
    )
    rotation: RotationConfig | None = setting(  # noqa: RUF009 - a field, like the others
        None,
        kind=SubTable(RotationConfig, "rotation = { artist_minutes = 60 }"),
        help="Its own rotation rules, instead of `[server.rotation]`.",
    )


@dataclass(frozen=True, slots=True)
class JinglesConfig:
    """
    Jingles and station IDs between a mount's tracks: its C{[mount.jingles]}
    table.
    """

    folder: str = setting(kind=Folder(), help="The folder of jingles, played in turn.")
    everyTracks: int = setting(0, kind=Integer(0, 1000, "tracks"), help="A jingle after this many tracks.")
    everyMinutes: int = setting(0, kind=Integer(0, 1440, "minutes"), help="A jingle once this many minutes passed.")
    topOfHour: bool = setting(
        False,
        kind=Flag(),
        help="A jingle at the first track change of each hour.",
        doc="Jingles never cut a track; with a hard block starting on the hour the ID plays first.",
    )


def blockRules(table: Table, blocks: tuple[BlockConfig, ...], playlist: str | None) -> None:
    """
    Each block plays exactly one of a folder, a playlist, a query and a
    mount's recordings, and the mount has a playlist, which is the default
    block.

    @param table: the mount's table.
    @param blocks: its blocks.
    @param playlist: its playlist.
    @raise ConfigError: when not.
    """
    for index, block in enumerate(blocks, 1):
        given = [block.folder, block.playlist, block.query, block.recordings]
        if sum(value is not None for value in given) != 1:
            table.fail(f"block[{index}]", "give exactly one of folder, playlist, query and recordings")
        if block.show is not None and block.recordings is None:
            table.fail(f"block[{index}].show", "show chooses among recordings; give recordings too")
    if blocks and playlist is None:
        table.fail("block", "a mount with blocks needs a playlist: it plays outside every block")
