# -*- test-case-name: tests.test_config -*-
"""
Checking a whole document: the TOML file (L{loadConfig}, L{parseConfig}),
or the same shape built from the command line (L{checkDocument}).
"""

from __future__ import annotations

import os
import tomllib
from typing import Any

from txradio.config._check import ConfigError, Table, checkTable, declared, knownKeys, typeName
from txradio.config.djs import DJConfig, djsRules
from txradio.config.mount import TEMPLATE_KEYS, MountConfig, MountTemplate
from txradio.config.rules import (
    hookRules,
    mountRules,
    mountsRules,
    radioRules,
    serverRules,
    templateRules,
)
from txradio.config.values import HLSConfig, HookConfig, RadioConfig, ServerConfig

MAX_FILE_SIZE = 1 << 20
"""The largest configuration file L{loadConfig} reads, in bytes."""

_TOP_KEYS = ("dj", "hls", "hook", "mount", "mount_template", "server")


def _table(file: str, data: dict[str, Any], key: str, cls: type, base: str) -> Table | None:
    """
    A top-level table, e.g. C{[server]}.

    @param file: the file's path.
    @param data: the document.
    @param key: the table's key.
    @param cls: the value class declaring its settings.
    @param base: the folder relative paths are resolved against.
    @return: the table, or L{None} when the document has none.
    @raise ConfigError: when it is not a table or has an unknown key.
    """
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(file, f"must be a table ([{key}]), not {typeName(value)}", key)
    return Table(file, key, value, knownKeys(cls), base)


def _arrayOfTables(file: str, value: Any, key: str) -> list[Any]:
    """
    An array of tables, e.g. the C{[[mount]]} tables.

    @param file: the file's path.
    @param value: the document's value at C{key}, not L{None}.
    @param key: the key.
    @return: the items (each still to be checked as a table).
    @raise ConfigError: when it is not an array.
    """
    if isinstance(value, dict):
        raise ConfigError(file, f"must be an array of tables: write [[{key}]], not [{key}]", key)
    if not isinstance(value, list):
        raise ConfigError(file, f"must be an array of tables ([[{key}]]), not {typeName(value)}", key)
    return value


def _items(file: str, values: list[Any], key: str, cls: type, base: str):
    """
    Each table of an array of tables.

    @param file: the file's path.
    @param values: the items.
    @param key: the array's key.
    @param cls: the value class declaring their settings.
    @param base: the folder relative paths are resolved against.
    @return: an iterator of L{Table}s, named C{key[1]}, C{key[2]}…
    @raise ConfigError: for an item that is not a table.
    """
    for index, item in enumerate(values, 1):
        prefix = f"{key}[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(file, f"must be a table ([[{key}]]), not {typeName(item)}", prefix)
        yield Table(file, prefix, item, knownKeys(cls), base)


def _server(file: str, data: dict[str, Any], base: str) -> ServerConfig:
    """
    @return: the checked C{[server]} table.
    """
    table = _table(file, data, "server", ServerConfig, base)
    if table is None:
        return ServerConfig()
    values = checkTable(ServerConfig, table)
    serverRules(table, values)
    return ServerConfig(**values)


def _mounts(file: str, data: dict[str, Any], base: str) -> tuple[MountConfig, ...]:
    """
    @return: the checked C{[[mount]]} tables, in order.
    """
    value = data.get("mount")
    if value is None or value == []:
        raise ConfigError(file, 'there are no mounts; add a [[mount]] table with a path, e.g. path = "/stream"')
    mounts: list[MountConfig] = []
    where: dict[str, str] = {}
    for table in _items(file, _arrayOfTables(file, value, "mount"), "mount", MountConfig, base):
        values = checkTable(MountConfig, table)
        mountRules(table, values)
        mount = MountConfig(**values)
        if mount.path in where:
            table.fail("path", f"{mount.path} is already the path of {where[mount.path]}")
        where[mount.path] = table.prefix
        mounts.append(mount)
    return mountsRules(file, mounts, where)


def _hooks(file: str, data: dict[str, Any], base: str) -> tuple[HookConfig, ...]:
    """
    @return: the checked C{[[hook]]} tables, in order.
    """
    value = data.get("hook")
    if value is None:
        return ()
    hooks = []
    for table in _items(file, _arrayOfTables(file, value, "hook"), "hook", HookConfig, base):
        values = checkTable(HookConfig, table)
        hookRules(table, values)
        hooks.append(HookConfig(**values))
    return tuple(hooks)


def _djs(file: str, data: dict[str, Any], base: str) -> tuple[DJConfig, ...]:
    """
    @return: the checked C{[[dj]]} tables, in order.
    """
    value = data.get("dj")
    if value is None:
        return ()
    djs, where = [], []
    for table in _items(file, _arrayOfTables(file, value, "dj"), "dj", DJConfig, base):
        djs.append(DJConfig(**checkTable(DJConfig, table)))
        where.append(table.prefix)
    return djsRules(file, djs, where)


def _template(file: str, data: dict[str, Any], base: str) -> MountTemplate:
    """
    @return: the checked C{[mount_template]} table: the mount keys of
        L{TEMPLATE_KEYS}, each checked as on a C{[[mount]]}.
    """
    value = data.get("mount_template")
    if value is None:
        return MountTemplate()
    if not isinstance(value, dict):
        raise ConfigError(file, f"must be a table ([mount_template]), not {typeName(value)}", "mount_template")
    table = Table(file, "mount_template", value, tuple(sorted(TEMPLATE_KEYS)), base)
    settings = tuple(
        (d.name, d.setting.kind.check(table, d.key, d.default)) for d in declared(MountConfig) if d.key in value
    )
    return MountTemplate(settings)


def checkDocument(data: dict[str, Any], file: str = "<config>", base: str = ".") -> RadioConfig:
    """
    Check a document shaped like the file: C{{"server": {…}, "mount":
    [{…}, …], "hls": {…}, "hook": [{…}, …], "mount_template": {…}}}, with the file's keys and
    TOML's types.

    @param data: the document.
    @param file: where it came from, for errors.
    @param base: the folder relative paths are resolved against.
    @return: the whole configuration.
    @raise ConfigError: for the first bad setting; nothing is returned
        half-checked.
    """
    Table(file, "", data, _TOP_KEYS)
    server = _server(file, data, base)
    mounts = _mounts(file, data, base)
    radioRules(file, server, mounts)
    hooks = _hooks(file, data, base)
    table = _table(file, data, "hls", HLSConfig, base)
    hls = HLSConfig() if table is None else HLSConfig(**checkTable(HLSConfig, table))
    template = _template(file, data, base)
    djs = _djs(file, data, base)
    radio = RadioConfig(server=server, mounts=mounts, hooks=hooks, hls=hls, template=template, djs=djs)
    templateRules(file, radio)
    return radio


def parseConfig(text: str, path: str = "<config>") -> RadioConfig:
    """
    Parse and check a configuration.

    @param text: the TOML document.
    @param path: the file it came from, for messages; relative playlist
        paths are resolved against its folder (the current folder for the
        default C{"<config>"}).
    @return: the whole configuration.
    @raise ConfigError: for a TOML syntax error or any bad setting; nothing
        is returned half-checked.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        if "at line" not in message:
            message += f" (line {text.count(chr(10)) + 1})"
        raise ConfigError(path, f"not valid TOML: {message}") from None
    except ValueError:
        # Python refuses to convert integers of thousands of digits.
        raise ConfigError(path, "not valid TOML: a number has too many digits") from None
    except RecursionError:
        raise ConfigError(path, "not valid TOML: arrays or tables are nested too deeply") from None
    return checkDocument(data, path, os.path.dirname(os.path.abspath(path)))


def loadConfig(path: str) -> RadioConfig:
    """
    Read, parse and check a configuration file.

    @param path: the file, UTF-8 encoded (a byte order mark is allowed).
    @return: the whole configuration.
    @raise ConfigError: when the file cannot be read, is too large, is not
        UTF-8, or L{parseConfig} rejects it.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_SIZE + 1)
    except OSError as error:
        raise ConfigError(path, f"cannot read the configuration: {error.strerror or error}") from None
    if len(raw) > MAX_FILE_SIZE:
        raise ConfigError(path, f"is larger than {MAX_FILE_SIZE} bytes; is it the configuration file?")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ConfigError(path, f"not UTF-8 text: undecodable byte at line {line}; save the file as UTF-8") from None
    return parseConfig(text, path)
