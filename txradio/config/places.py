# -*- test-case-name: tests.test_config -*-
"""
Kinds of setting that name something outside the file: mount paths,
folders and files (which must exist when the file is read), and URLs.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import SplitResult, urlsplit

from txradio.config._check import Table, show
from txradio.config.kinds import Kind, Strings, Text, parsed
from txradio.stream.station import normalizeMount
from txradio.wire.upstream import parseUpstream


class MountPath(Text):
    """
    A mount path, normalized by L{normalizeMount}'s rules.
    """

    def __init__(self) -> None:
        Text.__init__(self, allowEmpty=False, emptyHint="give a path such as /stream")

    def value(self, table: Table, key: str, value: Any) -> str:
        text = Text.value(self, table, key, value)
        try:
            return normalizeMount(text).decode("ascii")
        except ValueError as error:
            problem = str(error)
        table.fail(key, problem)
        raise AssertionError("unreachable")  # pragma: no cover

    def describe(self) -> str:
        return "mount path"


def _resolve(table: Table, value: str) -> str:
    """
    @param table: the table a path is in.
    @param value: the path as written.
    @return: it made absolute against the table's base folder, C{~}
        expanded.
    """
    return os.path.normpath(os.path.join(table.base, os.path.expanduser(value)))


def _probe(path: str) -> tuple[bool, bool, bool]:
    """
    Look at what a path names now.

    @param path: an absolute path.
    @return: C{(isFolder, isFile, readable)}; a folder is readable when it
        can be listed and entered.
    """
    try:
        isFolder = os.path.isdir(path)
        isFile = os.path.isfile(path)
        return isFolder, isFile, os.access(path, os.R_OK | (os.X_OK if isFolder else 0))
    except ValueError:
        # Some names cannot be passed to the system at all (e.g. ones that
        # cannot be encoded); they name nothing that exists.
        return False, False, False


class Playlist(Text):
    """
    A folder of music, or a readable C{.m3u}/C{.m3u8} file, that exists
    now; the value is its absolute path.
    """

    extensions = (".m3u", ".m3u8")

    def __init__(self) -> None:
        Text.__init__(self, allowEmpty=False, emptyHint="give a music folder or an .m3u file")

    def value(self, table: Table, key: str, value: Any) -> str:
        path = _resolve(table, Text.value(self, table, key, value))
        isFolder, isFile, readable = _probe(path)
        if isFolder:
            if not readable:
                table.fail(key, f"folder {path!r} cannot be read")
        elif isFile:
            if not path.lower().endswith(self.extensions):
                table.fail(key, f"{path!r} is a file but not an .m3u or .m3u8 playlist; give one, or a folder")
            if not readable:
                table.fail(key, f"playlist file {path!r} cannot be read")
        else:
            table.fail(key, f"{path!r} does not exist; give a music folder or an .m3u/.m3u8 file")
        return path

    def describe(self) -> str:
        return "string (folder or .m3u/.m3u8 file)"


class IntroFile(Text):
    """
    A readable file that exists now (an intro's audio); the value is its
    absolute path.  Its format is looked at when the mount is built.
    """

    def __init__(self) -> None:
        Text.__init__(self, allowEmpty=False, emptyHint="leave it out for no intro")

    def value(self, table: Table, key: str, value: Any) -> str:
        path = _resolve(table, Text.value(self, table, key, value))
        _, isFile, readable = _probe(path)
        if not isFile:
            table.fail(key, f"{path!r} is not a file; give an audio file such as intro.mp3")
        if not readable:
            table.fail(key, f"intro file {path!r} cannot be read")
        return path

    def describe(self) -> str:
        return "string (file)"


def _httpParts(url: str) -> SplitResult | None:
    """
    Split an C{http(s)} URL with a host (and a valid port, if any).

    @param url: the URL.
    @return: its parts, or L{None} for anything else.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it checks the port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts


def _existingFolder(table: Table, key: str, value: str, shown: str | None = None) -> str:
    """
    Resolve a folder's path, failing when it is not a folder.

    @param table: the table being checked.
    @param key: the key of the value.
    @param value: the path as written.
    @param shown: what the error names; the resolved path by default.
    @return: the absolute path.
    """
    path = _resolve(table, value)
    if not os.path.isdir(path):
        table.fail(key, f"{show(path if shown is None else shown)} is not a folder")
    return path


class Library(Kind):
    """
    A folder that exists, or C{false}.
    """

    def value(self, table: Table, key: str, value: Any) -> str | bool:
        if value is False:
            return value
        if not isinstance(value, str) or not value.strip():
            table.fail(key, f"must be a folder, or false for no library, not {show(value)}")
        return _existingFolder(table, key, value, shown=value)

    def describe(self) -> str:
        return "string (folder) or `false`"


class Folder(Text):
    """
    A folder that exists; the value is its absolute path.
    """

    def __init__(self) -> None:
        Text.__init__(self, allowEmpty=False, emptyHint="leave it out for none")

    def value(self, table: Table, key: str, value: Any) -> str:
        return _existingFolder(table, key, Text.value(self, table, key, value))

    def describe(self) -> str:
        return "string (folder)"


class LogPath(Text):
    """
    A file to append to, whose folder exists; the value is its absolute
    path.
    """

    def __init__(self) -> None:
        Text.__init__(self, allowEmpty=False, emptyHint="leave it out for no log")

    def value(self, table: Table, key: str, value: Any) -> str:
        path = _resolve(table, Text.value(self, table, key, value))
        if os.path.isdir(path):
            table.fail(key, f"{show(path)} is a folder; give a file name in it")
        if not os.path.isdir(os.path.dirname(path)):
            table.fail(key, f"the folder of {show(path)} does not exist")
        return path

    def describe(self) -> str:
        return "string (file)"


class PublicURL(Text):
    """
    An C{http(s)} base URL with a host, without credentials, query or
    fragment.
    """

    def __init__(self) -> None:
        Text.__init__(self, allowEmpty=False, emptyHint="leave it out to use the Host header")

    def value(self, table: Table, key: str, value: Any) -> str:
        url = Text.value(self, table, key, value).strip()
        parts = _httpParts(url)
        if parts is None:
            table.fail(key, f"must be an http:// or https:// URL with a host, not {show(url)}")
        assert parts is not None  # table.fail raised otherwise
        if parts.query or parts.fragment or parts.username is not None:
            table.fail(key, f"must be a base URL without credentials, query or fragment, not {show(url)}")
        if any(ord(c) < 0x21 or ord(c) > 0x7E for c in url):
            table.fail(key, f"must be ASCII without spaces (percent-encode the rest), not {show(url)}")
        return url

    def describe(self) -> str:
        return "string (`http://` or `https://` URL)"


class Upstream(Text):
    """
    Another server's URL: C{http} or C{https}, a host, a valid port, no
    credentials, no fragment.

    @ivar needsMount: whether it must name a mount (a path other than
        C{/}) and have no query, as a push target must.
    """

    def __init__(self, needsMount: bool) -> None:
        Text.__init__(self, allowEmpty=False, emptyHint="give a URL such as http://host:8000/stream")
        self.needsMount = needsMount

    def value(self, table: Table, key: str, value: Any) -> str:
        url = Text.value(self, table, key, value).strip()
        if any(c.isspace() for c in url):
            table.fail(key, f"must not contain spaces (percent-encode them): {show(url)}")
        try:
            parseUpstream(url)
            parts = urlsplit(url)
            hasCredentials = parts.username is not None or parts.password is not None
        except ValueError as error:
            table.fail(key, f"is not usable: {error}; expected http://host[:port]/path or https://…")
        if hasCredentials:
            table.fail(
                key,
                "must not hold credentials; give them as user and password"
                if self.needsMount
                else "must not hold credentials (relays connect without them)",
            )
        if parts.fragment:
            table.fail(key, f"must not have a #fragment: {show(url)}")
        if self.needsMount and (parts.path in ("", "/") or parts.query):
            table.fail(key, f"must name the upstream mount, e.g. http://icecast.example:8000/live, not {show(url)}")
        return url

    def describe(self) -> str:
        return "string (`http://` or `https://` URL)"


class HookURL(Text):
    """
    Where a hook POSTs: an C{http(s)} URL.
    """

    def __init__(self) -> None:
        Text.__init__(self, allowEmpty=False)

    def value(self, table: Table, key: str, value: Any) -> str:
        url = Text.value(self, table, key, value)
        if urlsplit(url).scheme not in ("http", "https"):
            table.fail(key, f"must be an http:// or https:// URL, not {show(url)}")
        return url

    def describe(self) -> str:
        return "string (`http://` or `https://` URL)"


class MountPaths(Strings):
    """
    An array of mount paths, normalized.
    """

    def value(self, table: Table, key: str, value: Any) -> tuple[str, ...]:
        paths = Strings.value(self, table, key, value)
        return tuple(parsed(table, key, normalizeMount, path).decode("ascii") for path in paths)

    def describe(self) -> str:
        return "array of mount paths"


class DirectoryURLs(Strings):
    """
    YP directories: an array of C{http(s)} URLs with a host, without
    credentials or a fragment, none twice.
    """

    def value(self, table: Table, key: str, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        urls = Strings.value(self, table, key, value)
        for index, url in enumerate(urls, 1):
            where = table.itemIndex(key, index)
            parts = _httpParts(url)
            if parts is None:
                table.fail(key, f"must be an http:// or https:// URL with a host, not {show(url)}", where)
            assert parts is not None  # table.fail raised otherwise
            if parts.username is not None or parts.fragment or any(ord(c) < 0x21 or ord(c) > 0x7E for c in url):
                table.fail(key, f"must be an ASCII URL without credentials or a fragment, not {show(url)}", where)
            if url in urls[: index - 1]:
                table.fail(key, f"{show(url)} is listed twice", where)
        return urls

    def describe(self) -> str:
        return "array of `http://` or `https://` URLs"

    def fromOption(self, text: str) -> list[str]:
        return [text]
