# -*- test-case-name: tests.test_access_config -*-
"""
Kinds of setting for listener access control: address lists, user-agent
bans and the htpasswd file (the settings themselves are declared on
L{txradio.config.ServerConfig} and L{txradio.config.MountConfig}; a mount's
overrides the server's, see L{txradio.wiring.accessPolicy}).
"""

from __future__ import annotations

import os
from typing import Any

from txradio.config._check import Table, show
from txradio.config.kinds import Strings, Text, checked, parsed
from txradio.config.places import _resolve
from txradio.wire.access import MAX_HTPASSWD_BYTES, AgentBans, parseNetworks


class Networks(Strings):
    """
    An array of IP addresses and networks (IPv4 and IPv6, CIDR); the value
    holds each normalized (C{"10.1.2.3/8"} is C{"10.0.0.0/8"}).
    """

    def value(self, table: Table, key: str, value: Any) -> tuple[str, ...]:
        texts = Strings.value(self, table, key, value)
        return tuple(str(network) for network in parsed(table, key, parseNetworks, texts))

    def describe(self) -> str:
        return "array of IP networks"


class AgentPatterns(Strings):
    """
    An array of user-agent bans: substrings, or C{"re:…"} regular
    expressions, each of 1 to 200 characters.
    """

    def value(self, table: Table, key: str, value: Any) -> tuple[str, ...]:
        return checked(table, key, AgentBans, Strings.value(self, table, key, value))

    def describe(self) -> str:
        return "array of strings (substrings or `re:` patterns)"


class PasswordPath(Text):
    """
    A readable htpasswd file, no larger than 1 MiB, that exists now; the
    value is its absolute path (it is read again on every reload).
    """

    def __init__(self) -> None:
        Text.__init__(self, allowEmpty=False, emptyHint="leave it out for no password")

    def value(self, table: Table, key: str, value: Any) -> str:
        path = _resolve(table, Text.value(self, table, key, value))
        if not os.path.isfile(path) or not os.access(path, os.R_OK):
            table.fail(key, f"{show(path)} is not a readable file")
        if os.path.getsize(path) > MAX_HTPASSWD_BYTES:
            table.fail(key, f"{show(path)} is larger than {MAX_HTPASSWD_BYTES} bytes")
        return path

    def describe(self) -> str:
        return "string (htpasswd file)"
