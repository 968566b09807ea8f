# -*- test-case-name: tests.test_config -*-
"""
The configuration: one declaration per setting (L{values}) feeding the
frozen values, the file's checks, C{twistd txradio}'s options and
C{docs/config.md}; part of the composition root, it may import every
layer.

This package only reads and checks.  It opens no sockets and builds no
services; L{txradio.build} turns a L{RadioConfig} into a running radio.  A
file is either entirely valid, and L{parseConfig} returns a complete
L{RadioConfig}, or it is not, and L{ConfigError} names the file, the line
(for TOML syntax errors) or the key (for everything else, e.g.
C{mount[2].metaint}, counting C{[[mount]]} tables from 1) and what is
expected.  Nothing is ever half-configured.

Keys are written in C{snake_case} in the file and appear in C{camelCase} on
the values (C{source_password} is L{MountConfig.sourcePassword}).  See
C{docs/config.md} for the file format; L{txradio.config.reference} writes
its tables.

 - L{txradio.config.values} and L{txradio.config.mount}: the value
   classes, whose fields declare the settings;
 - L{txradio.config.kinds} and L{txradio.config.places}: how each kind of
   setting is written and checked;
 - L{txradio.config.rules}: the rules relating settings to each other;
 - L{txradio.config.document}: checking a whole document;
 - L{txradio.config.reference}: the reference tables of the documentation.
"""

from txradio.config._check import (
    MAX_TEXT,
    ConfigError,
    Declared,
    Setting,
    declared,
    setting,
)
from txradio.config.document import (
    MAX_FILE_SIZE,
    checkDocument,
    loadConfig,
    parseConfig,
)
from txradio.config.mount import (
    MAX_BURST,
    MAX_TIMEOUT,
    MIN_LAG_LIMIT,
    TEMPLATE_KEYS,
    MountConfig,
    MountTemplate,
    PushConfig,
)
from txradio.config.places import Playlist
from txradio.config.values import (
    DEFAULT_LISTEN,
    HOOK_EVENTS,
    LOG_ADDRESSES,
    METRICS_MODES,
    HLSConfig,
    HookConfig,
    RadioConfig,
    ServerConfig,
)

PLAYLIST_EXTENSIONS = Playlist.extensions
"""The playlist files a mount can play (anything else must be a folder)."""

__all__ = [
    "DEFAULT_LISTEN",
    "HOOK_EVENTS",
    "LOG_ADDRESSES",
    "MAX_BURST",
    "MAX_FILE_SIZE",
    "MAX_TEXT",
    "MAX_TIMEOUT",
    "METRICS_MODES",
    "MIN_LAG_LIMIT",
    "TEMPLATE_KEYS",
    "PLAYLIST_EXTENSIONS",
    "ConfigError",
    "Declared",
    "HLSConfig",
    "HookConfig",
    "MountTemplate",
    "MountConfig",
    "PushConfig",
    "RadioConfig",
    "ServerConfig",
    "Setting",
    "checkDocument",
    "declared",
    "loadConfig",
    "parseConfig",
    "setting",
]
