# -*- test-case-name: tests.test_config -*-
"""
The rules that relate settings to each other: what a mount plays, live
sources and their passwords, derived mounts, fallbacks, hooks' actions.

Each rule takes values the kinds have already checked (and the table, to
name the key at fault) and fails with a L{ConfigError}; the rules that
span mounts may also fill in what one mount takes from another.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from txradio.config._check import ConfigError, Table, show
from txradio.config.mount import MountConfig
from txradio.config.schedule import blockRules
from txradio.config.values import RadioConfig, ServerConfig


def serverRules(table: Table, values: dict[str, Any]) -> None:
    """
    A SHOUTcast source port cannot also be a listener port.

    @param table: the C{[server]} table.
    @param values: its checked values by field name.
    @raise ConfigError: when a rule is broken.
    """
    for index, description in enumerate(values["shoutcastSourceListen"], 1):
        if description in values["listen"]:
            table.fail(
                "shoutcast_source_listen",
                f"{show(description)} is also in listen; SHOUTcast sources need a port of their own",
                table.itemIndex("shoutcast_source_listen", index),
            )


def mountRules(table: Table, values: dict[str, Any]) -> None:
    """
    What one mount plays, who may broadcast to it, and what a derived mount
    may not have.

    @param table: the C{[[mount]]} table.
    @param values: its checked values by field name.
    @raise ConfigError: when a rule is broken.
    """
    path = values["path"]
    blockRules(table, values["blocks"], values["playlist"])
    if values["playlist"] is not None and values["relay"] is not None:
        table.fail("relay", f"mount {path} has both a playlist and a relay; a mount plays one of them")
    if values["shuffle"] and values["playlist"] is None:
        table.fail("shuffle", f"mount {path} has no playlist to shuffle")
    if values["live"] and values["sourcePassword"] is None:
        table.fail(
            "source_password", f"mount {path} accepts live sources but has no source_password; there is no default"
        )
    if not values["live"]:
        for key in ("source_password", "source_user"):
            if table.has(key):
                table.fail(key, f"is set but live is not true; add live = true to mount {path} to accept sources")
    deriveFrom = values["deriveFrom"]
    if deriveFrom is not None:
        if values["bitrate"] is None:
            table.fail(None, f"mount {path} is derived from {deriveFrom} and needs a bitrate, e.g. bitrate = 64")
        if values["formatPolicy"] is not None:
            table.fail("format_policy", f"mount {path} is derived: everything it plays is re-encoded")
        if deriveFrom == path:
            table.fail("derive_from", f"mount {path} cannot be derived from itself")
        for key in ("playlist", "relay", "live"):
            if table.has(key):
                table.fail(
                    key, f"mount {path} is derived from {deriveFrom} and plays its programme; it cannot also have {key}"
                )
    elif values["playlist"] is None and values["relay"] is None and not values["live"]:
        table.fail(
            None,
            f"mount {path} has nothing to play: give it a playlist or a relay, or live = true and a source_password",
        )
    if values["fallback"] == path:
        table.fail("fallback", f"mount {path} cannot fall back to itself")


def mountsRules(file: str, mounts: list[MountConfig], where: dict[str, str]) -> tuple[MountConfig, ...]:
    """
    How mounts refer to each other: derived mounts name a mount that is not
    itself derived, and take its sample rate and channels unless they set
    their own; fallbacks name a mount and do not go round in a cycle.

    @param file: the file's path, for errors.
    @param mounts: the mounts, each already checked on its own, in order.
    @param where: each mount's table key path (e.g. C{"mount[2]"}) by path.
    @return: the mounts, derived ones completed.
    @raise ConfigError: when a rule is broken.
    """
    byPath = {mount.path: mount for mount in mounts}
    for position, mount in enumerate(mounts):
        if mount.deriveFrom is None:
            continue
        parent = byPath.get(mount.deriveFrom)
        key = f"{where[mount.path]}.derive_from"
        if parent is None:
            raise ConfigError(
                file,
                f"mount {mount.path} is derived from {mount.deriveFrom}, which is not a mount here; "
                f"mounts: {', '.join(byPath)}",
                key,
            )
        if parent.deriveFrom is not None:
            raise ConfigError(
                file,
                f"{mount.deriveFrom} is itself derived from {parent.deriveFrom}; derive from {parent.deriveFrom}",
                key,
            )
        # Same programme, same sample rate and channels unless set.
        mounts[position] = mount = replace(
            mount,
            sampleRate=mount.sampleRate or parent.audioFormat.sampleRate,
            channels=mount.channels or parent.audioFormat.channels,
        )
        byPath[mount.path] = mount
    for mount in mounts:
        if mount.fallback is None:
            continue
        key = f"{where[mount.path]}.fallback"
        if mount.fallback not in byPath:
            known = ", ".join(byPath)
            raise ConfigError(
                file, f"mount {mount.path} falls back to {mount.fallback}, which is not a mount here; mounts: {known}", key
            )
        chain = [mount.path]
        step = byPath[mount.fallback]
        while step.fallback is not None and step.path not in chain:
            chain.append(step.path)
            step = byPath[step.fallback]
        if step.path == mount.path:
            cycle = " -> ".join(chain + [step.path])
            raise ConfigError(file, f"fallbacks go round in a cycle ({cycle}); one mount of it must have no fallback", key)
    return tuple(mounts)


def reairRules(file: str, server: ServerConfig, mounts: tuple[MountConfig, ...]) -> None:
    """
    A block that re-airs recordings names a mount that records, whose
    recordings are found in C{[server] recordings_dir} (or, for the mount's
    own recordings, in its own C{recordings_dir}).

    @param file: the file's path, for errors.
    @param server: the server settings.
    @param mounts: the mounts.
    @raise ConfigError: when the rule is broken.
    """
    byPath = {mount.path: mount for mount in mounts}
    for index, mount in enumerate(mounts, 1):
        for number, block in enumerate(mount.blocks, 1):
            if block.recordings is None:
                continue
            key = f"mount[{index}].block[{number}].recordings"
            recorded = byPath.get(block.recordings)
            if recorded is None or not recorded.record:
                raise ConfigError(
                    file, f"{block.recordings} is not a mount with record = true here, so it has no recordings", key
                )
            if recorded is not mount and recorded.recordingsDir not in (None, server.recordingsDir):
                raise ConfigError(
                    file,
                    f"{block.recordings} keeps its recordings in its own recordings_dir; "
                    "another mount re-airs them only from [server] recordings_dir",
                    key,
                )


def radioRules(file: str, server: ServerConfig, mounts: tuple[MountConfig, ...]) -> None:
    """
    SHOUTcast source ports need a live mount to feed; a recorded mount
    needs a folder.

    @param file: the file's path, for errors.
    @param server: the server settings.
    @param mounts: the mounts.
    @raise ConfigError: when the rule is broken.
    """
    for index, mount in enumerate(mounts, 1):
        if mount.record and mount.recordingsDir is None and server.recordingsDir is None:
            raise ConfigError(
                file,
                f"mount {mount.path} has record = true but no folder; set recordings_dir here or in [server]",
                f"mount[{index}].record",
            )
    for index, mount in enumerate(mounts, 1):
        for number, block in enumerate(mount.blocks, 1):
            if block.query is not None and libraryFolderOf(server, mounts) is None:
                raise ConfigError(
                    file,
                    "chooses songs from the library index, and there is no library: set [server] library "
                    "to the music folder",
                    f"mount[{index}].block[{number}].query",
                )
    reairRules(file, server, mounts)
    if server.shoutcastSourceListen and not any(mount.live for mount in mounts):
        raise ConfigError(
            file,
            "is set but no mount has live = true; SHOUTcast v1 sources need a live mount to feed",
            "server.shoutcast_source_listen",
        )


def libraryFolderOf(server: ServerConfig, mounts: tuple[MountConfig, ...]) -> str | None:
    """
    The folder of the on-demand library: the one place it is decided.

    @param server: the server settings.
    @param mounts: the mounts.
    @return: C{server.library}, or, when that is left out, the first
        mount's playlist that is a folder; L{None} when it is C{false} or
        there is no such folder.
    """
    folder = server.library
    if folder is False:
        return None
    if folder is None:
        folder = next((m.playlist for m in mounts if m.playlist is not None and os.path.isdir(m.playlist)), None)
    return folder if isinstance(folder, str) and folder else None


def hookRules(table: Table, values: dict[str, Any]) -> None:
    """
    A hook has exactly one action, and thresholds go with the
    C{listener-threshold} event.

    @param table: the C{[[hook]]} table.
    @param values: its checked values by field name.
    @raise ConfigError: when a rule is broken.
    """
    command, url, events = values["command"], values["url"], values["events"]
    if (command is None) == (url is None):
        table.fail(None, "needs exactly one of command (a program and its arguments) or url")
    if command is not None and not command:
        table.fail("command", 'must name a program, e.g. ["/usr/local/bin/notify", "--quiet"]')
    if values["thresholds"] and "listener-threshold" not in events:
        table.fail("thresholds", 'is set but on does not include "listener-threshold"')
    if "listener-threshold" in events and not values["thresholds"]:
        table.fail("thresholds", 'is required for "listener-threshold": the listener counts to watch, e.g. [100, 500]')


def templateRules(file: str, radio: RadioConfig) -> None:
    """
    Dynamic mounts: turned on, they need a source password; the template
    falls back to a configured mount, and its settings make a valid mount.

    @param file: the file's path, for errors.
    @param radio: the whole configuration.
    @raise ConfigError: when a rule is broken.
    """
    template = radio.template
    if radio.server.dynamicMounts and radio.server.sourcePassword is None and template.sourcePassword is None:
        raise ConfigError(
            file,
            "is true but there is no source password for dynamic mounts: set [server] source_password "
            "(or source_password in [mount_template])",
            "server.dynamic_mounts",
        )
    fallback = template.fallback
    if fallback is not None and all(mount.path != fallback for mount in radio.mounts):
        known = ", ".join(mount.path for mount in radio.mounts)
        raise ConfigError(
            file, f"{fallback} is not a mount here; dynamic mounts fall back to a configured mount: {known}",
            "mount_template.fallback",
        )
