# -*- test-case-name: tests.test_djs -*-
"""
DJ accounts: the C{[[dj]]} tables, and the kinds of their settings (weekly
windows, the station's time zone).

A DJ logs in as a source client with its own name and password, on the
mounts it is given, inside its weekly windows; see docs/shows.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from txradio.config._check import Table, setting, show
from txradio.config.kinds import Seconds, Strings, User
from txradio.config.places import MountPaths
from txradio.config.secrets import Secret
from txradio.wire.passwordhash import PasswordHash
from txradio.wire.windows import MAX_WINDOWS, parseWindow

MAX_GRACE = 3600.0
"""The longest grace after a window, in seconds."""

MAX_DJS = 1000
"""The most C{[[dj]]} tables: every source login compares every account."""


class Windows(Strings):
    """
    An array of weekly windows (L{txradio.wire.windows}), at least one.
    """

    def value(self, table: Table, key: str, value: Any) -> tuple[str, ...]:
        texts = Strings.value(self, table, key, value)
        if not texts:
            table.fail(key, 'must list at least one window, e.g. ["Mon 20:00-22:00"]')
        if len(texts) > MAX_WINDOWS:
            table.fail(key, f"lists {len(texts)} windows; the most allowed is {MAX_WINDOWS}")
        for index, text in enumerate(texts, 1):
            try:
                parseWindow(text)
            except ValueError as error:
                table.fail(key, str(error), table.itemIndex(key, index))
        return texts

    def describe(self) -> str:
        return 'array of weekly windows (`"Mon 20:00-22:00"`, `"Mon-Fri 06:00-09:00"`)'


@dataclass(frozen=True, slots=True)
class DJConfig:
    """
    A DJ account: a C{[[dj]]} table.

    @ivar name: the user name its source client logs in with; also the
        show's name while it is on air.
    @ivar password: its password, or L{PasswordHash}.
    @ivar mounts: the mounts it may broadcast to.
    @ivar windows: its weekly windows, as written.
    @ivar grace: seconds it may stay on air after a window ends.
    """

    name: str = setting(
        kind=User(), help="The user name the DJ's source client logs in with; the show's name while on air."
    )
    password: str | PasswordHash = setting(
        kind=Secret(hashable=True),
        help="The DJ's password.",
        doc="A string, a file, an environment variable or a `txradio hash-password` hash (see Secrets).",
    )
    mounts: tuple[str, ...] = setting(
        kind=MountPaths(),
        help="The mounts the DJ may broadcast to (configured mounts, or names of dynamic ones).",
    )
    windows: tuple[str, ...] = setting(
        kind=Windows(),
        help="When the DJ may broadcast, each week, in `[server] timezone`.",
        doc='A window whose end is not after its start crosses midnight (`"Fri 23:00-01:00"`); windows that '
        "touch are one (`\"Mon-Sun 00:00-24:00\"` is never cut).",
    )
    grace: float = setting(
        0.0,
        kind=Seconds(MAX_GRACE, allowZero=True),
        help="Seconds the DJ may stay on air after a window ends, before the source is ended.",
        shown="`0`",
    )


def djsRules(file: str, djs: list[DJConfig], where: list[str]) -> tuple[DJConfig, ...]:
    """
    The rules across DJ accounts: no name twice, and a bounded number.

    @param file: the configuration file, for messages.
    @param djs: the checked accounts.
    @param where: each account's table prefix, e.g. C{"dj[2]"}.
    @return: the accounts.
    @raise ConfigError: when a name is given twice or there are too many.
    """
    from txradio.config._check import ConfigError

    if len(djs) > MAX_DJS:
        raise ConfigError(file, f"{len(djs)} [[dj]] tables; the most allowed is {MAX_DJS}", "dj")
    seen: dict[str, str] = {}
    for dj, prefix in zip(djs, where, strict=True):
        if dj.name in seen:
            raise ConfigError(file, f"{show(dj.name)} is already the name of {seen[dj.name]}", f"{prefix}.name")
        seen[dj.name] = prefix
    return tuple(djs)
