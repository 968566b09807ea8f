# -*- test-case-name: tests.test_secrets -*-
"""
The kind of the secret settings (C{admin_password}, a mount's
C{source_password}, a push's C{password}): a literal string, or a table
saying where the secret is, so that it need not be written in the file or
on the command line (where C{ps} shows it)::

    admin_password = "hackme"                           # literal
    admin_password = { file = "/run/secrets/admin" }    # first line of a file
    admin_password = { env = "ADMIN_PASSWORD" }         # an environment variable
    admin_password = { hash = "scrypt$16384$8$1$…" }    # txradio hash-password
    admin_password = { file = "/run/secrets/admin-hash", hashed = true }

The file or variable is read when the configuration is checked (at start
and on every reload, so a changed secret file applies with C{SIGHUP}).  A
hash (L{txradio.wire.passwordhash}) is verified without the server knowing
the password; a push password is sent to the upstream server and so
cannot be hashed.

This lives beside L{txradio.config.kinds} rather than in it because, like
L{txradio.config.places}, it reads something outside the document.
"""

from __future__ import annotations

import os
from typing import Any

from txradio.config._check import CONTROL, MAX_TEXT, Table, typeName
from txradio.config.kinds import Flag, Kind, Text
from txradio.wire.passwordhash import PasswordHash

MAX_SECRET_FILE = 4096
"""The largest secret file read, in bytes: a secret is one short line, and a
bigger file is most likely the wrong one."""

SOURCES = ("file", "env", "hash")
"""The keys of a secret's table that say where it is; exactly one is given."""

_KEYS = (*SOURCES, "hashed")


def _text(table: Table, key: str, text: str, origin: str) -> str:
    """
    Check a secret's text without ever showing it in a message.

    @param table: the secret's table.
    @param key: the key that gave it.
    @param text: the secret.
    @param origin: where it came from, for the message.
    @return: the secret.
    @raise ConfigError: when it is empty, too long or holds control
        characters.
    """
    if not text.strip():
        table.fail(key, f"{origin} is empty")
    if len(text) > MAX_TEXT:
        table.fail(key, f"{origin} is {len(text)} characters long; the most allowed is {MAX_TEXT}")
    if CONTROL.search(text):
        table.fail(key, f"{origin} holds control characters")
    return text


def readSecretFile(table: Table, key: str, path: str) -> str:
    """
    Read the first line of a secret file.

    @param table: the secret's table (its base folder resolves a relative
        path).
    @param key: the key naming the file.
    @param path: the file, as written.
    @return: its first line, without the line break.
    @raise ConfigError: when the file does not exist, cannot be read, is
        larger than L{MAX_SECRET_FILE} or its first line is empty.
    """
    full = os.path.normpath(os.path.join(table.base, os.path.expanduser(path)))
    try:
        with open(full, "rb") as f:
            raw = f.read(MAX_SECRET_FILE + 1)
    except FileNotFoundError:
        table.fail(key, f"{full!r} does not exist")
    except IsADirectoryError:
        table.fail(key, f"{full!r} is a folder; give the file holding the secret")
    except (OSError, ValueError) as error:
        table.fail(key, f"{full!r} cannot be read: {getattr(error, 'strerror', None) or error}")
    if len(raw) > MAX_SECRET_FILE:
        table.fail(key, f"{full!r} is larger than {MAX_SECRET_FILE} bytes; a secret file holds the secret on its first line")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        table.fail(key, f"{full!r} is not UTF-8 text")
    first = text.split("\n", 1)[0].removesuffix("\r")
    return _text(table, key, first, f"the first line of {full!r}")


class Secret(Kind):
    """
    A password: a string, or C{{ file = … }}, C{{ env = … }} or (when
    L{hashable}) C{{ hash = … }}, with C{hashed = true} for a file or
    variable holding a hash.

    The value is the password (a L{str}), or a L{PasswordHash}.

    @ivar hashable: whether it may be given as a hash (it is only checked
        by the server, not sent anywhere).
    @ivar emptyHint: what to say after "must not be empty".
    """

    def __init__(self, hashable: bool, emptyHint: str = "") -> None:
        self.hashable = hashable
        self.emptyHint = emptyHint

    def value(self, table: Table, key: str, value: Any) -> str | PasswordHash:
        if isinstance(value, str):
            return Text(allowEmpty=False, emptyHint=self.emptyHint).value(table, key, value)
        if not isinstance(value, dict):
            table.fail(key, f"must be a string or a table such as {{ file = \"/run/secrets/x\" }}, not {typeName(value)}")
        child = table.child(key, value, _KEYS)
        given = [name for name in SOURCES if child.has(name)]
        if len(given) != 1:
            choices = "file, env or hash" if self.hashable else "file or env"
            child.fail(None, f"needs exactly one of {choices}, e.g. {{ file = \"/run/secrets/x\" }}")
        source = given[0]
        hashed = Flag().check(child, "hashed", False)
        if not self.hashable and (hashed or source == "hash"):
            child.fail(
                "hashed" if hashed else source,
                "cannot be a hash: this password is sent to the upstream server, so txradio needs the password "
                "itself (give it, or { file = … } or { env = … })",
            )
        if source == "hash" and child.has("hashed"):
            child.fail("hashed", "goes with file or env; hash is already a hash")
        where = Text(allowEmpty=False).value(child, source, child.data[source])
        if source == "file":
            secret = readSecretFile(child, "file", where)
        elif source == "env":
            secret = self._environment(child, where)
        else:
            secret = where
        if source == "hash" or hashed:
            try:
                return PasswordHash.parse(secret)
            except ValueError as error:
                child.fail(source, str(error))
        return secret

    def _environment(self, table: Table, name: str) -> str:
        """
        @param table: the secret's table.
        @param name: the environment variable.
        @return: its value.
        @raise ConfigError: when it is not set or empty.
        """
        secret = os.environ.get(name)
        if secret is None:
            table.fail("env", f"the environment variable {name} is not set")
        assert secret is not None  # table.fail raised otherwise
        return _text(table, "env", secret, f"the environment variable {name}")

    def describe(self) -> str:
        tables = "`{ file = … }`, `{ env = … }`" + (" or `{ hash = … }`" if self.hashable else "")
        return f"string, or {tables}"
