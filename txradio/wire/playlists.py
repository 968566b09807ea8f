# -*- test-case-name: tests.test_protocol,tests.test_fuzz_regressions -*-
"""
Playlist files that point players at a stream: extended M3U, PLS and XSPF.

Pure functions: a URL and a title in, the file's text out.  Titles and URLs
are cleaned so that no line break or markup in a station's name can change
the file's structure.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from txradio.wire.icy import cleanTitle

M3U_TYPE = b"audio/x-mpegurl"
PLS_TYPE = b"audio/x-scpls"
XSPF_TYPE = b"application/xspf+xml"


def buildM3U(entries: list[tuple[str, str]]) -> bytes:
    """
    Build an extended M3U playlist.

    @param entries: C{(url, title)} pairs; a live stream has no length, so
        each entry is marked C{#EXTINF:-1}.
    @return: the file, UTF-8, with CRLF line ends (which every player reads).
    """
    lines = ["#EXTM3U"]
    for url, title in entries:
        lines.append(f"#EXTINF:-1,{cleanTitle(title)}")
        lines.append(cleanTitle(url))
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def buildPLS(entries: list[tuple[str, str]]) -> bytes:
    """
    Build a PLS playlist (SHOUTcast's C{listen.pls}).

    @param entries: C{(url, title)} pairs.
    @return: the file, UTF-8.
    """
    lines = ["[playlist]"]
    for number, (url, title) in enumerate(entries, 1):
        lines.append(f"File{number}={cleanTitle(url)}")
        lines.append(f"Title{number}={cleanTitle(title)}")
        lines.append(f"Length{number}=-1")
    lines.append(f"NumberOfEntries={len(entries)}")
    lines.append("Version=2")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def buildXSPF(entries: list[tuple[str, str]]) -> bytes:
    """
    Build an XSPF playlist.

    @param entries: C{(url, title)} pairs.
    @return: the XML document, UTF-8.
    """
    tracks = "".join(
        f"    <track><location>{escape(cleanTitle(url))}</location>"
        f"<title>{escape(cleanTitle(title))}</title></track>\n"
        for url, title in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<playlist version="1" xmlns="http://xspf.org/ns/0/">\n'
        "  <trackList>\n"
        f"{tracks}"
        "  </trackList>\n"
        "</playlist>\n"
    ).encode()
