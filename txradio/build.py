# -*- test-case-name: tests.test_build,tests.test_formats,tests.test_reload -*-
"""
Assembling a radio from a configuration: the stations, their sources,
fallbacks and pushes, and the service that runs them.

This is the one builder: the command line (L{txradio.tap}) and the file
both come here with a L{RadioConfig}, and a reload (L{txradio.reload})
makes its new and rebuilt mounts with L{buildStations} and updates the
others with L{updateStation}.  The format policy (L{resolvePolicy}), the
refuser and the playlist (L{playlistSource}), the stream info
(L{streamInfo}) and a station's running settings (L{configureStation}) are
each decided here, once; what surrounds the stations (logs, hooks, access
checks, DJ accounts, directory listings) is wired by L{txradio.wiring}.
"""

from __future__ import annotations

import os
from collections.abc import Container, Mapping
from dataclasses import replace

from twisted.logger import Logger

from txradio.config import MountConfig, RadioConfig, ServerConfig
from txradio.config.rules import libraryFolderOf
from txradio.config.schedule import BlockConfig
from txradio.library.index import Library
from txradio.library.query import QueryTracks
from txradio.net.push import PushClient
from txradio.operations.recordings import Recorder, RecordingLimits
from txradio.service import RadioService
from txradio.sources.decode import Decoders
from txradio.sources.encoder import EncoderSettings
from txradio.sources.intro import IntroError, convertIntro, fitsFormat, readIntro
from txradio.sources.loudness import Leveller, LoudnessAnalyser
from txradio.sources.playlist import PlaylistSource, Tracks
from txradio.sources.reair import RecordingTracks
from txradio.sources.relay import RelaySource
from txradio.sources.requests import takeRequests
from txradio.sources.schedule import Block, ScheduledSource, scheduledTracksFor
from txradio.sources.seams import SeamMaker
from txradio.sources.tracks import FolderTracks, tracksFor
from txradio.sources.transcode import ALWAYS, TranscodingSource
from txradio.stream.intro import introChunk
from txradio.stream.station import Station
from txradio.stream.switcher import MountFollower
from txradio.web.hls import HLSSettings
from txradio.wire.audioformat import SKIP, TRANSCODE, AudioFormat, findEncoder, refuser
from txradio.wire.icy import StreamInfo
from txradio.wire.schedule import JinglePolicy, parseWhen
from txradio.wiring import configureAccess, configureDJs, configureOperations, directoryClients

_log = Logger()


def shoutcastEndpointFor(description: str) -> str | None:
    """
    The SHOUTcast v1 source port that goes with a listener endpoint: the
    next port, on the same interface.

    @param description: a listener endpoint string, e.g. C{"tcp:8000"}.
    @return: e.g. C{"tcp:8001"}, or L{None} when the description is not a
        TCP port with a number.
    """
    parts = description.split(":")
    if parts[0] not in ("tcp", "tcp6") or len(parts) < 2:
        return None
    port = parts[1]
    port = port.removeprefix("port=")
    if not port.isdigit() or int(port) in (0, 65535):
        return None
    options = [p for p in parts[2:] if p.startswith("interface=")]
    return ":".join([parts[0], str(int(port) + 1), *options])


class EncoderMissing(ValueError):
    """
    Some mounts need the encoder program and it cannot be found.

    @ivar mounts: the paths of the mounts that need it.
    @ivar executable: the program looked for.
    """

    def __init__(self, mounts: list[str], executable: str) -> None:
        self.mounts = mounts
        self.executable = executable
        ValueError.__init__(
            self,
            f"mount{'s' if len(mounts) > 1 else ''} {', '.join(mounts)} need{'' if len(mounts) > 1 else 's'} "
            f"the encoder {executable!r}, which is not installed or not on PATH "
            "(on Debian: apt install ffmpeg); derived mounts and format_policy = \"transcode\" re-encode audio",
        )


def needsEncoder(mount: MountConfig) -> bool:
    """
    Tell whether a mount cannot run without the encoder program.

    @param mount: a mount.
    @return: L{True} for a derived mount or one whose policy is explicitly
        C{"transcode"}; a mount with the default policy skips what it cannot
        transcode instead.
    """
    return mount.deriveFrom is not None or mount.formatPolicy == TRANSCODE


def checkEncoder(config: RadioConfig, executable: str = "ffmpeg") -> str | None:
    """
    Find the encoder program, and fail clearly if a mount needs it and it
    is missing.

    @param config: a validated configuration.
    @param executable: the program.
    @return: its full path, or L{None} when it is missing and no mount
        needs it.
    @raise EncoderMissing: when it is missing and some mount needs it.
    """
    found = findEncoder(executable)
    if found is None:
        needing = [mount.path for mount in config.mounts if needsEncoder(mount)]
        if needing:
            raise EncoderMissing(needing, executable)
    return found


def conformer(
    audioFormat: AudioFormat, policy: str | None, reactor, encoder: str | None, name: str
):
    """
    Make what keeps a mount's format, for L{Station}'s C{conform}.

    @param audioFormat: the mount's format.
    @param policy: C{"transcode"}, C{"skip"}, or L{None} for transcode
        when an encoder exists.
    @param reactor: the reactor encoders are spawned with.
    @param encoder: the encoder program's path, or L{None} when missing.
    @param name: the mount, for logs.
    @return: a callable wrapping a source in a L{TranscodingSource}.
    """
    policy = resolvePolicy(policy, encoder)
    settings = EncoderSettings(audioFormat, encoder or "ffmpeg", name=name)
    return lambda switcher: TranscodingSource(
        switcher, settings, policy, reactor=reactor, encoderAvailable=encoder is not None
    )


def resolvePolicy(policy: str | None, encoder: str | None) -> str:
    """
    Decide what a mount does with audio of another format: the one place
    the default policy is chosen.

    @param policy: the mount's C{format_policy}, or L{None} for the
        default.
    @param encoder: the encoder program's path, or L{None} when missing.
    @return: C{policy}, or by default C{"transcode"} when the encoder
        exists and C{"skip"} when it does not.
    """
    return policy or (TRANSCODE if encoder else SKIP)


def streamInfo(mount: MountConfig) -> StreamInfo:
    """
    What a mount announces (its C{icy-*} headers).

    @param mount: the mount.
    @return: the stream info; a derived mount announces its bitrate.
    """
    return StreamInfo(
        name=mount.name,
        genre=mount.genre,
        url=mount.url,
        description=mount.description,
        public=mount.public,
        bitrate=mount.bitrate if mount.deriveFrom is not None else None,
    )


def playlistSource(
    mount: MountConfig, reactor, policy: str, server: ServerConfig | None = None, library: Library | None = None
) -> PlaylistSource:
    """
    Make a mount's playlist programme.

    @param mount: a mount with a playlist.
    @param reactor: the clock.
    @param policy: the mount's resolved format policy; with C{"skip"} the
        playlist itself skips tracks of another format.
    @param server: the server settings, for the programme clock; without
        them the mount's blocks and jingles are left out.
    @param library: the on-demand library, for blocks that query its
        index.
    @return: the source.
    """
    refuse = refuser(mount.audioFormat) if policy == SKIP else None
    leveller = None
    if mount.loudness is not None or mount.trimSilence or mount.crossfade:
        # A crossfade needs each track's duration, which only ffmpeg's
        # measurement gives (ReplayGain tags do not).
        analyser = LoudnessAnalyser(reactor, needSilence=mount.trimSilence or bool(mount.crossfade))
        leveller = Leveller(analyser, mount.loudness, mount.trimSilence)
    if server is not None and (mount.blocks or mount.jingles is not None):
        source = scheduledSource(mount, server, reactor, library, refuse=refuse, leveller=leveller)
    else:
        source = PlaylistSource(
            tracksFor(mount.playlist, mount.shuffle), clock=reactor, name=mount.path, refuse=refuse, leveller=leveller
        )
    ffmpeg = findEncoder("ffmpeg")
    source.decoders = Decoders(reactor, mount.audioFormat, ffmpeg)
    if mount.crossfade:
        if ffmpeg is None:
            _log.warn(
                "{mount}: crossfade needs ffmpeg, which is not installed: tracks follow with clean cuts",
                mount=mount.path,
            )
        else:
            source.seams = SeamMaker(reactor, mount.crossfade, ffmpeg, mount.path, mount.audioFormat.bitrate)
    if mount.requests and server is not None:
        takeRequests(source, reactor, server.requests.limits())
    return source


def recordingsFolder(base: str, mount: str) -> str:
    """
    @param base: a C{recordings_dir}.
    @param mount: a mount's path.
    @return: the folder the mount's recordings are written to there
        (C{DIR/MOUNT}).
    """
    return os.path.join(base, mount.strip("/"))


def blockTracks(block: BlockConfig, mount: MountConfig, server: ServerConfig, library: Library | None) -> Tracks:
    """
    Make the track list of a block of the programme clock.

    @param block: the block's settings.
    @param mount: the mount it belongs to.
    @param server: the server settings.
    @param library: the on-demand library, or L{None}.
    @return: its folder's or playlist's tracks, its query over the library
        index, or the recordings it re-airs.
    @raise ValueError: for a query without a library (the configuration's
        rules refuse it first).
    """
    if block.query is not None:
        if library is None:
            raise ValueError(f"block {block.name or block.when} queries the library, and there is none")
        return QueryTracks(library, block.query, block.shuffle)
    if block.recordings is None:
        return tracksFor(block.folder or block.playlist or "", block.shuffle)
    # The configuration's rules: the mount's own recordings may be in its
    # own folder; another mount's are in the server's.
    own = mount.recordingsDir if block.recordings == mount.path else None
    folder = recordingsFolder(own or server.recordingsDir or "", block.recordings)
    return RecordingTracks(folder, block.show, block.pick)


def scheduledSource(
    mount: MountConfig, server: ServerConfig, reactor, library: Library | None = None, **kwargs
) -> PlaylistSource:
    """
    Make a mount's programme on the programme clock: its blocks, with its
    playlist as the default block, and its jingles.

    @param mount: a mount with a playlist and blocks or jingles.
    @param server: the server settings (time zone, rotation rules).
    @param reactor: the clock.
    @param library: the on-demand library, for blocks that query its
        index.
    @param kwargs: the L{PlaylistSource}'s other arguments.
    @return: a L{ScheduledSource}.
    @raise ValueError: for a block with a query and no library.
    """
    assert mount.playlist is not None
    rules = server.rotation.rules()
    blocks = [
        Block(
            block.name or block.when,
            parseWhen(block.when),
            blockTracks(block, mount, server, library),
            hard=block.start == "hard",
            rotation=block.rotation.rules() if block.rotation is not None else rules,
            when=block.when,
            plays=blockPlays(block),
        )
        for block in mount.blocks
    ]
    default = Block("default", None, tracksFor(mount.playlist, mount.shuffle), rotation=rules, plays="playlist")
    jingles, policy = None, JinglePolicy()
    if mount.jingles is not None:
        jingles = FolderTracks(mount.jingles.folder)
        policy = JinglePolicy(mount.jingles.everyTracks, mount.jingles.everyMinutes, mount.jingles.topOfHour)
    tracks = scheduledTracksFor(blocks, default, reactor, server.timezone, jingles, policy, mount.path)
    return ScheduledSource(tracks, clock=reactor, name=mount.path, **kwargs)


def blockPlays(block: BlockConfig) -> str:
    """
    @param block: a block's settings.
    @return: what it plays, for the status (no file-system paths).
    """
    if block.query is not None:
        return f"query: {block.query.describe()}"
    if block.recordings is not None:
        return f"recordings of {block.recordings}"
    return "folder" if block.folder is not None else "playlist"


def programmeFor(mount: MountConfig, server: ServerConfig, reactor, policy: str, library: Library | None = None):
    """
    Make what a mount plays of its own.

    @param mount: a mount that is not derived.
    @param server: the server settings (the relay's timeout).
    @param reactor: the reactor.
    @param policy: the mount's resolved format policy.
    @param library: the on-demand library, for blocks that query it.
    @return: a L{PlaylistSource}, a L{RelaySource}, or L{None} for a
        live-only mount.
    """
    if mount.playlist is not None:
        return playlistSource(mount, reactor, policy, server, library)
    if mount.relay is not None:
        return RelaySource(mount.relay, reactor=reactor, name=mount.path, timeout=server.sourceTimeout)
    return None


def listenerDuration(mount: MountConfig, server: ServerConfig | None) -> float:
    """
    The longest a mount's listeners may stay: the one place the server's
    default meets the mount's own.

    @param mount: the mount.
    @param server: the server settings, or L{None} for the defaults.
    @return: seconds, or 0 for no limit.
    """
    if mount.maxListenerDuration is not None:
        return float(mount.maxListenerDuration)
    return float(server.maxListenerDuration) if server is not None else 0.0


def configureStation(station: Station, mount: MountConfig, server: ServerConfig | None = None) -> None:
    """
    Give a station the settings it takes while running: at construction,
    and again when a reload updates them in place.

    @param station: the station.
    @param mount: its settings.
    @param server: the server settings (the default listener duration),
        or L{None} for the defaults.
    """
    station.info = streamInfo(mount)
    station.limits = replace(
        station.limits, maxListeners=mount.maxListeners, lagLimit=mount.lagLimit, legacyStatus=mount.icyStatus
    )
    station.sourcePassword = mount.sourcePassword if mount.live else None
    station.sourceUser = mount.sourceUser
    # The site serves no HLS for a station whose hls is false.
    station.hls = mount.hls
    station.maxListenerDuration = listenerDuration(mount, server)


def _introKey(mount: MountConfig) -> tuple | None:
    """
    What an intro's chunk depends on: the file (its path, size and
    modification time), the mount's format and the title it carries.

    @param mount: a mount.
    @return: the key, or L{None} for no intro (or a file gone since the
        configuration was read, which L{readIntro} then reports).
    """
    if mount.intro is None:
        return None
    try:
        info = os.stat(mount.intro)
    except OSError:
        return (mount.intro, None, None, mount.audioFormat, mount.name)
    return (mount.intro, info.st_size, info.st_mtime_ns, mount.audioFormat, mount.name)


def checkIntro(mount: MountConfig, encoder: str | None) -> bool:
    """
    Check that a mount's intro can be played: read it, and tell whether it
    must be converted.

    @param mount: a mount with an intro.
    @param encoder: the encoder program's path, or L{None} when missing.
    @return: L{True} when it must be converted (in the background).
    @raise IntroError: when it cannot be read, or must be converted and
        there is no encoder.
    """
    assert mount.intro is not None
    frames = readIntro(mount.intro)
    if fitsFormat(frames, mount.audioFormat):
        return False
    if encoder is None:
        raise IntroError(
            f"mount {mount.path}: intro {mount.intro!r} is not {mount.audioFormat.describe()}, and ffmpeg, which "
            "would convert it, is not installed or not on PATH (on Debian: apt install ffmpeg); convert it "
            "beforehand or install ffmpeg"
        )
    return True


def checkIntros(config: RadioConfig, encoder: str | None) -> None:
    """
    Check every mount's intro (see L{checkIntro}), for a clear error at
    startup.

    @param config: a validated configuration.
    @param encoder: the encoder program's path, or L{None} when missing.
    @raise IntroError: for the first intro that cannot be played.
    """
    for mount in config.mounts:
        if mount.intro is not None:
            checkIntro(mount, encoder)


def configureIntro(station: Station, mount: MountConfig, reactor, encoder: str | None | bool = True) -> None:
    """
    Give a station its mount's intro: at construction, and at each reload
    (the file is read again when its size or time changed).

    An intro in the mount's format is set at once.  One in another format
    is converted by ffmpeg in a child process; the mount plays no intro
    until the conversion is done.

    @param station: the station.
    @param mount: its settings.
    @param reactor: the reactor (process spawner and clock).
    @param encoder: the encoder program's path, L{None} when it is
        missing, or L{True} to look for it on C{PATH}.
    @raise IntroError: when the intro cannot be read, or must be converted
        and there is no encoder.
    """
    key = _introKey(mount)
    if key == station.introKey:
        return
    if key is None:
        station.intro = None
        station.introKey = None
        return
    if encoder is True:
        from txradio.wire.audioformat import findEncoder

        encoder = findEncoder("ffmpeg")
    assert mount.intro is not None
    frames = readIntro(mount.intro)
    if fitsFormat(frames, mount.audioFormat):
        station.intro = introChunk(frames, mount.name)
        station.introKey = key
        return
    checkIntro(mount, encoder or None)
    station.intro = None
    station.introKey = key
    _log.info(
        "{mount}: converting the intro {path} to {audioFormat} with ffmpeg",
        mount=mount.path,
        path=mount.intro,
        audioFormat=mount.audioFormat.describe(),
    )

    def converted(frames) -> None:
        if station.introKey != key:
            return  # a reload changed the intro meanwhile
        station.intro = introChunk(frames, mount.name)
        _log.info("{mount}: the intro is ready", mount=mount.path)

    def failed(failure) -> None:
        _log.error("{mount}: no intro: {error}", mount=mount.path, error=str(failure.value))

    convertIntro(reactor, mount.intro, mount.audioFormat, executable=str(encoder)).addCallbacks(converted, failed)


def configureRecorder(station: Station, mount: MountConfig, server: ServerConfig | None, reactor) -> None:
    """
    Give a station the recorder of its live shows when its mount has
    C{record = true} (L{txradio.operations.recordings}), or take it away;
    a reload that changes the recorder's settings replaces it (finishing a
    recording in progress).

    @param station: the station.
    @param mount: its settings.
    @param server: the server settings, or L{None} for the defaults.
    @param reactor: the clock.
    """
    folder = mount.recordingsDir or (server.recordingsDir if server is not None else None)
    key = None
    if mount.record and folder is not None:
        limits = RecordingLimits(
            keep=mount.recordingsKeep,
            maxAgeDays=mount.recordingsMaxAgeDays,
            maxBytes=mount.recordMaxMegabytes << 20,
            maxSeconds=mount.recordMaxSeconds,
            minFree=(server.recordingsMinFree if server is not None else 256) << 20,
        )
        key = (recordingsFolder(folder, mount.path), limits)
    old = station.recorder
    if old is not None and old.settingsKey == key:
        return
    if old is not None:
        old.disownServiceParent()
        station.recorder = None
    if key is None:
        return
    path, limits = key
    recorder = Recorder(station, path, reactor, limits)
    recorder.settingsKey = key
    station.recorder = recorder
    recorder.setServiceParent(station)


def updateStation(
    station: Station,
    mount: MountConfig,
    changed: frozenset[str],
    reactor,
    server: ServerConfig | None = None,
    library: Library | None = None,
) -> None:
    """
    Update a running station in place (a reload): its listeners stay
    connected, and a new playlist plays from the next frame.

    @param station: the station.
    @param mount: its new settings.
    @param changed: the fields of its settings that changed.
    @param reactor: the clock.
    @param server: the new server settings, or L{None} for the defaults.
    """
    configureStation(station, mount, server)
    configureIntro(station, mount, reactor)
    configureRecorder(station, mount, server, reactor)
    if changed & {"playlist", "shuffle", "loudness", "trimSilence", "crossfade", "requests"}:
        # The policy cannot have changed (that rebuilds the mount): keep the
        # one its conformer was given.
        policy = station.conformer.policy if station.conformer is not None else SKIP
        station.replaceProgramme(playlistSource(mount, reactor, policy, server, library))


def derivedStation(parent: Station, mount: str, audioFormat: AudioFormat, reactor, encoder: str, **kwargs) -> Station:
    """
    Make a mount that re-encodes another: its programme follows the parent
    mount's stream (whatever the parent plays: programme, live source or
    fallback) through an encoder.

    @param parent: the mount to follow.
    @param mount: the new mount's path.
    @param audioFormat: its format (a bitrate set).
    @param reactor: the reactor (clock and process spawner).
    @param encoder: the encoder program.
    @param kwargs: more L{Station} arguments.
    @return: the station, recorded in C{parent.derived}.
    """
    follower = MountFollower(parent, name=mount)
    follower.peer = f"derived mount {mount}"
    # Not a listener of the parent: it takes no listener slot there.
    follower.internal = True
    source = TranscodingSource(follower, EncoderSettings(audioFormat, encoder, name=mount), ALWAYS, reactor=reactor)
    station = Station(source, mount=mount, clock=reactor, **kwargs)
    station.derivedFrom = parent
    parent.derived.append(station)
    return station


def buildStation(
    mount: MountConfig,
    server: ServerConfig,
    reactor,
    encoder: str | None,
    parent: Station | None = None,
    library: Library | None = None,
) -> Station:
    """
    Make one mount's station: the one place a station is made from
    settings, for a start and for a reload.

    @param mount: its settings.
    @param server: the server settings.
    @param reactor: the reactor (clock and process spawner).
    @param encoder: the encoder program's path, or L{None} when missing.
    @param parent: for a derived mount, the station it re-encodes.
    @param library: the on-demand library, for blocks that query it.
    @return: the station, not yet linked to its fallback.
    """
    shape = {"metaint": mount.metaint, "burstSize": mount.burstSize}
    if mount.deriveFrom is not None:
        assert parent is not None and encoder is not None
        station = derivedStation(parent, mount.path, mount.audioFormat, reactor, encoder, **shape)
    else:
        policy = resolvePolicy(mount.formatPolicy, encoder)
        station = Station(
            programmeFor(mount, server, reactor, policy, library),
            mount=mount.path,
            clock=reactor,
            conform=conformer(mount.audioFormat, policy, reactor, encoder, mount.path),
            **shape,
        )
    configureStation(station, mount, server)
    configureIntro(station, mount, reactor, encoder)
    configureRecorder(station, mount, server, reactor)
    return station


def linkFallbacks(config: RadioConfig, stations: Mapping[str, Station], only: Container[str] | None = None) -> None:
    """
    Point each station at the fallback its mount names, changing only
    those that differ (a reload keeps the fallbacks that did not change).

    @param config: the configuration.
    @param stations: every mount's station, by path.
    @param only: the paths of the stations to link, or L{None} for all.
    """
    for mount in config.mounts:
        if only is not None and mount.path not in only:
            continue
        station = stations[mount.path]
        target = stations[mount.fallback] if mount.fallback is not None else None
        if station.fallback is not target:
            station.setFallback(target)


def buildStations(
    config: RadioConfig,
    reactor,
    encoder: str | None | bool = True,
    keep: Mapping[str, Station] | None = None,
    library: Library | None = None,
) -> list[Station]:
    """
    Make the stations a configuration describes, with their fallbacks.

    @param config: a validated configuration.
    @param reactor: the reactor (and clock).
    @param encoder: the encoder program's path, L{None} when it is
        missing, or L{True} to look for C{ffmpeg} on C{PATH}.
    @param keep: stations already running, by mount path, to use as they
        are instead of building them (a configuration reload); their
        fallbacks are left alone (see L{linkFallbacks}).
    @param library: the on-demand library, for blocks that query it.
    @return: the stations, in the configuration's order.
    @raise EncoderMissing: when a mount needs the encoder and it is missing.
    """
    if encoder is True:
        encoder = checkEncoder(config)
    elif encoder is None and any(needsEncoder(mount) for mount in config.mounts):
        raise EncoderMissing([m.path for m in config.mounts if needsEncoder(m)], "ffmpeg")
    stations: dict[str, Station] = dict(keep or {})
    # Parents first: a derived mount follows its parent's station.
    for mount in sorted(config.mounts, key=lambda m: m.deriveFrom is not None):
        if mount.path not in stations:
            parent = stations.get(mount.deriveFrom) if mount.deriveFrom is not None else None
            stations[mount.path] = buildStation(mount, config.server, reactor, encoder or None, parent, library)
    stations = {mount.path: stations[mount.path] for mount in config.mounts}
    # Kept stations are running: the caller relinks them when it is time.
    linkFallbacks(config, stations, only=[path for path in stations if path not in (keep or {})])
    return list(stations.values())


def hlsSettings(config) -> HLSSettings:
    """
    How the site serves HLS, from the C{[hls]} table.

    @param config: the checked table, a L{txradio.config.HLSConfig}.
    @return: the settings for L{RadioService}.
    """
    return HLSSettings(enabled=config.enabled, targetDuration=config.segment, windowSegments=config.window)


def libraryFolder(config: RadioConfig) -> str | None:
    """
    The folder of the on-demand library a configuration asks for.

    @param config: a validated configuration.
    @return: C{server.library}, or, when that is left out, the first
        mount's playlist that is a folder; L{None} when it is C{false} or
        there is no such folder.
    """
    return libraryFolderOf(config.server, config.mounts)


def libraryFor(config: RadioConfig, reactor) -> Library | None:
    """
    The on-demand library a configuration asks for.

    @param config: a validated configuration.
    @param reactor: the reactor.
    @return: a L{txradio.library.index.Library} for L{libraryFolder}, or
        L{None} for none.
    """
    folder = libraryFolder(config)
    return Library(folder, clock=reactor) if folder else None


def serviceFromConfig(config: RadioConfig, reactor=None, encoder: str | None | bool = True) -> RadioService:
    """
    Build the whole radio a configuration describes, whether it came from
    a file or from the command line.

    @param config: a validated configuration.
    @param reactor: the reactor; the global one by default.
    @param encoder: the encoder program's path, L{None} when it is
        missing, or L{True} to look for C{ffmpeg} on C{PATH}.
    @return: the L{RadioService}, not yet started.
    @raise EncoderMissing: when a mount needs the encoder and it is missing.
    """
    if reactor is None:
        from twisted.internet import reactor
    if encoder is True:
        encoder = checkEncoder(config)
    library = libraryFor(config, reactor)
    stations = buildStations(config, reactor, encoder, library=library)
    byPath = {station.mount.decode(): station for station in stations}
    live = [station for station in stations if station.acceptsSources]
    shoutcast = [(endpoint, live[0]) for endpoint in config.server.shoutcastSourceListen] if live else []
    service = RadioService(
        stations,
        library=library,
        listen=config.server.listen,
        reactor=reactor,
        publicURL=config.server.publicURL,
        headerTimeout=config.server.headerTimeout,
        adminPassword=config.server.adminPassword,
        sourceTimeout=config.server.sourceTimeout,
        shoutcastSources=shoutcast,
        hls=hlsSettings(config.hls),
        metrics=config.server.metrics,
        metricsListen=config.server.metricsListen,
    )
    configureOperations(service, config.server, config.hooks, reactor)
    configureAccess(service, config, reactor)
    configureDJs(service, config, reactor)
    from txradio.dynamic import configureDynamicMounts  # It builds with this module.

    configureDynamicMounts(service, config, reactor, encoder)
    for mount in config.mounts:
        if mount.push is not None:
            PushClient(
                byPath[mount.path],
                mount.push.url,
                password=mount.push.password,
                user=mount.push.user,
                reactor=reactor,
            ).setServiceParent(service)
    for client in directoryClients(config, byPath, reactor):
        client.setServiceParent(service)
    return service
