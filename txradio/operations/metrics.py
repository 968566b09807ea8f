# -*- test-case-name: tests.test_metrics -*-
"""
The radio's figures in the Prometheus text format.

Nothing is counted for the metrics alone: at each scrape the collector reads
what the stations already keep (their listeners, L{StationStats} counters,
the broadcasters' tick lateness, encoders, relays and pushes), so a radio
that is never scraped pays nothing.  C{prometheus_client} does the exposition
format (escaping, types, the process collector reading C{/proc}), which is
easy to get subtly wrong by hand.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector

from txradio.interfaces import IEncoder, ILiveSource, IRelay, IStation
from txradio.stream.events import REASON_LABELS, REFUSAL_LABELS, REFUSAL_ONLY_LABELS

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The C{Content-Type} of the text format."""

PUSH_STATES = ("connecting", "streaming", "stopped")
"""The states a push to another server can be in."""


def encoderOf(station: IStation) -> IEncoder | None:
    """
    Find what re-encodes a station's audio, if anything.

    @param station: the station.
    @return: the encoder keeping its format or re-encoding its parent
        mount, or L{None}.
    """
    if station.conformer is not None:
        return station.conformer
    if station.derivedFrom is not None and IEncoder.providedBy(station.programme):
        return station.programme
    return None


def relayOf(station: IStation) -> IRelay | None:
    """
    Find the relay a station plays as its programme, if any.

    @param station: the station.
    @return: its relay, or L{None}.
    """
    programme = station.programme
    return programme if IRelay.providedBy(programme) else None


class RadioCollector:
    """
    A C{prometheus_client} collector reading a radio's stations.

    @ivar radio: anything with C{stations}, C{pushClients()} and
        C{hlsSessions(station)}: a L{txradio.service.RadioService}.
    """

    def __init__(self, radio) -> None:
        """
        @param radio: the radio to read.
        """
        self.radio = radio

    def collect(self) -> Iterator[Metric]:
        """
        Read every figure now.

        @return: the metric families, for C{prometheus_client}.
        """
        stations = list(self.radio.stations)
        listeners = GaugeMetricFamily(
            "txradio_listeners", "Listeners connected now, by mount and protocol (icy or hls sessions).", labels=["mount", "protocol"]
        )
        peak = GaugeMetricFamily("txradio_listeners_peak", "The most ICY listeners at once since start.", labels=["mount"])
        connects = CounterMetricFamily("txradio_listener_connects", "Listener streams started.", labels=["mount"])
        disconnects = CounterMetricFamily(
            "txradio_listener_disconnects", "Listener streams ended, by reason.", labels=["mount", "reason"]
        )
        refused = CounterMetricFamily(
            "txradio_listener_refusals", "Stream requests refused, by reason.", labels=["mount", "reason"]
        )
        slow = CounterMetricFamily(
            "txradio_slow_listener_drops", "Listeners dropped for falling too far behind.", labels=["mount"]
        )
        sent = CounterMetricFamily("txradio_sent_bytes", "Bytes sent to ICY listeners, metadata included.", labels=["mount"])
        burst = CounterMetricFamily("txradio_burst_bytes", "Bytes sent as bursts to new listeners.", labels=["mount"])
        audio = CounterMetricFamily(
            "txradio_audio_bytes", "Audio bytes the mount has played (once, not per listener).", labels=["mount"]
        )
        onAir = GaugeMetricFamily("txradio_on_air", "1 when the mount has something to play.", labels=["mount"])
        sourceUp = GaugeMetricFamily("txradio_source_up", "1 while a live source client is on the air.", labels=["mount"])
        sourceConnects = CounterMetricFamily(
            "txradio_source_connects", "Live source connections that went on the air.", labels=["mount"]
        )
        sourceDisconnects = CounterMetricFamily(
            "txradio_source_disconnects", "Live source connections that ended.", labels=["mount"]
        )
        tracks = CounterMetricFamily("txradio_title_changes", "Titles the stream has carried (track changes and updates).", labels=["mount"])
        updates = CounterMetricFamily("txradio_metadata_updates", "Metadata updates received.", labels=["mount"])
        lateness = HistogramMetricFamily(
            "txradio_tick_lateness_seconds", "How late the pacing tick ran (reactor lag).", labels=["mount"]
        )
        encoderUp = GaugeMetricFamily("txradio_encoder_running", "1 while the mount's encoder process runs.", labels=["mount"])
        encoderRestarts = CounterMetricFamily(
            "txradio_encoder_restarts", "Encoder runs that failed and were restarted.", labels=["mount"]
        )
        relayUp = GaugeMetricFamily("txradio_relay_up", "1 while the relayed upstream's audio flows.", labels=["mount"])
        relayConnects = CounterMetricFamily("txradio_relay_connects", "Successful connections to the upstream.", labels=["mount"])
        relayFailures = CounterMetricFamily("txradio_relay_failures", "Failed attempts to reach the upstream.", labels=["mount"])
        pushState = GaugeMetricFamily(
            "txradio_push_state", "1 for the state a push to another server is in.", labels=["mount", "upstream", "state"]
        )
        pushConnects = CounterMetricFamily(
            "txradio_push_connects", "Successful logins to the upstream server.", labels=["mount", "upstream"]
        )
        pushFailures = CounterMetricFamily(
            "txradio_push_failures", "Failed attempts to push to the upstream server.", labels=["mount", "upstream"]
        )
        for station in stations:
            mount = station.mount.decode("ascii")
            stats = station.stats
            current = list(station.broadcaster.listeners)
            listeners.add_metric([mount, "icy"], station.listenerCount)
            sessions = self.radio.hlsSessions(station)
            if sessions is not None:
                listeners.add_metric([mount, "hls"], sessions)
            peak.add_metric([mount], station.peakListeners)
            connects.add_metric([mount], station.totalListeners)
            for label in sorted(set(REASON_LABELS.values()) | set(stats.disconnects)):
                if label in REFUSAL_ONLY_LABELS:
                    continue
                disconnects.add_metric([mount, label], stats.disconnects.get(label, 0))
            for label in REFUSAL_LABELS:
                refused.add_metric([mount, label], stats.refused.get(label, 0))
            slow.add_metric([mount], stats.disconnects.get("lag_limit", 0))
            sent.add_metric([mount], stats.departedBytes + sum(each.bytesSent for each in current))
            burst.add_metric([mount], stats.burstBytes)
            audio.add_metric([mount], station.broadcaster.bytesSent)
            onAir.add_metric([mount], 1 if station.onAir else 0)
            live = station.liveSource
            up = live is not None and (live.connected if ILiveSource.providedBy(live) else live.onAir)
            sourceUp.add_metric([mount], 1 if up else 0)
            sourceConnects.add_metric([mount], stats.sourceConnects)
            sourceDisconnects.add_metric([mount], stats.sourceDisconnects)
            tracks.add_metric([mount], stats.titleChanges)
            updates.add_metric([mount], stats.metadataUpdates)
            histogram = station.broadcaster.lateness
            lateness.add_metric(
                [mount],
                [(_bound(bound), count) for bound, count in histogram.cumulative()],
                histogram.total,
            )
            coder = encoderOf(station)
            if coder is not None:
                encoderUp.add_metric([mount], 1 if coder.encoding else 0)
                encoderRestarts.add_metric([mount], coder.restarts)
            relay = relayOf(station)
            if relay is not None:
                relayUp.add_metric([mount], 1 if relay.onAir else 0)
                relayConnects.add_metric([mount], relay.connects)
                relayFailures.add_metric([mount], relay.failures)
        for push in self.radio.pushClients():
            labels = [push.station.mount.decode("ascii"), push.upstream.url]
            for state in PUSH_STATES:
                pushState.add_metric([*labels, state], 1 if push.state == state else 0)
            pushConnects.add_metric(labels, push.connects)
            pushFailures.add_metric(labels, push.failures)
        yield from (
            listeners,
            peak,
            connects,
            disconnects,
            refused,
            slow,
            sent,
            burst,
            audio,
            onAir,
            sourceUp,
            sourceConnects,
            sourceDisconnects,
            tracks,
            updates,
            lateness,
            encoderUp,
            encoderRestarts,
            relayUp,
            relayConnects,
            relayFailures,
            pushState,
            pushConnects,
            pushFailures,
        )


def _bound(bound: float) -> str:
    """
    Write a histogram bucket's upper bound as Prometheus does.

    @param bound: the bound.
    @return: e.g. C{"0.005"} or C{"+Inf"}.
    """
    return "+Inf" if bound == float("inf") else repr(bound)


def radioRegistry(radio, processMetrics: bool = True) -> CollectorRegistry:
    """
    A registry holding a radio's figures, and the process's own (CPU
    seconds, resident memory, open file descriptors) where the system tells
    them.

    @param radio: the radio; see L{RadioCollector}.
    @param processMetrics: whether to add the process collector.
    @return: a new L{CollectorRegistry}.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RadioCollector(radio))
    if processMetrics:
        ProcessCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """
    Render a registry in the Prometheus text format.

    @param registry: the registry.
    @return: the page's body.
    """
    return generate_latest(registry)
