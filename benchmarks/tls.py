#!/usr/bin/env python3
"""
TLS capacity benchmark: what an HTTPS listener costs txradio, measured
against Icecast 2 serving TLS on the same machine, load and file.

    python benchmarks/tls.py --smoke     # N=50 for a few seconds
    python benchmarks/tls.py --quick     # N=1,000 and 3,000
    python benchmarks/tls.py --full      # N=1,000, 3,000 and 9,000
    python benchmarks/tls.py --profile 20 --n 3000   # py-spy on txradio

It is C{benchmarks/capacity.py} with TLS on both sides: txradio listens on
an C{ssl:} endpoint, Icecast on a C{<ssl>1</ssl>} listen socket (its source,
ffmpeg, still connects to a plain socket), and the load generator is
C{loadgen.c} built with OpenSSL (C{-DLOADGEN_TLS}) and run with C{--tls}:
every listener makes a full handshake (no session resumption), so the ramp
costs what new listeners cost.  Both servers use one self-signed ECDSA
P-256 certificate made here with C{openssl req}.  Every socket is on
127.0.0.1.  See docs/performance.md for results.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import capacity  # noqa: E402

MODES = {
    "smoke": dict(ns=[50], off=[], rate=500, warmup=2.0, settle=1.0, window=3.0),
    "quick": dict(ns=[1000, 3000], off=[], rate=1000, warmup=5.0, settle=3.0, window=8.0),
    "full": dict(ns=[1000, 3000, 9000], off=[], rate=1000, warmup=5.0, settle=15.0, window=20.0),
}


def makeCertificate(folder: str) -> tuple[str, str, str]:
    """
    Make a self-signed ECDSA P-256 certificate for 127.0.0.1 with C{openssl}.

    @return: the key's file, the certificate's file and a file holding both
        (Icecast wants one).
    """
    key, cert, combined = (os.path.join(folder, name) for name in ("key.pem", "cert.pem", "combined.pem"))
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            key,
            "-out",
            cert,
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    with open(combined, "wb") as out:
        for name in (cert, key):
            with open(name, "rb") as f:
                out.write(f.read())
    for name in (key, cert, combined):
        os.chmod(name, 0o644)  # Icecast reads it as its own user
    return key, cert, combined


def _clientContext() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def tlsReady(port: int, timeout: float) -> int | None:
    """
    L{capacity.probe} through TLS.
    """
    context = _clientContext()
    return capacity.probe(port, timeout, wrap=context.wrap_socket)


class TxradioTLSServer(capacity.TxradioServer):
    """
    txradio with one C{ssl:} listening endpoint.
    """

    name = "txradio"
    loadgenOptions = ("--tls",)

    def __init__(self, tmp: str, mp3: str | None, root: str, key: str, cert: str) -> None:
        capacity.TxradioServer.__init__(self, tmp, mp3, root)
        self.key, self.cert = key, cert

    def listenDescription(self) -> str:
        return (
            f"ssl:{self.port}:interface=127.0.0.1:backlog=4096:"
            f"privateKey={self.key.replace(':', chr(92) + ':')}:certKey={self.cert.replace(':', chr(92) + ':')}"
        )

    def ready(self, timeout: float) -> int | None:
        return tlsReady(self.port, timeout)


class IcecastTLSServer(capacity.IcecastServer):
    """
    Icecast with a plain socket for its source and a TLS one for listeners.
    """

    name = "icecast"
    loadgenOptions = ("--tls",)

    def __init__(self, tmp: str, mp3: str, binary: str, combined: str) -> None:
        capacity.IcecastServer.__init__(self, tmp, mp3, binary)
        self.combined = combined

    def start(self) -> None:
        tlsPort = capacity.freePort()
        self.config = capacity.ICECAST_CONFIG.replace(
            "</listen-socket>",
            "</listen-socket>\n  <listen-socket>\n"
            f"    <port>{tlsPort}</port>\n    <bind-address>127.0.0.1</bind-address>\n    <ssl>1</ssl>\n"
            "  </listen-socket>",
            1,
        ).replace("<basedir>", f"<ssl-certificate>{self.combined}</ssl-certificate>\n    <basedir>", 1)
        capacity.IcecastServer.start(self)
        # the source is fed on the plain port; listeners come to this one
        self.port = tlsPort

    def ready(self, timeout: float) -> int | None:
        return tlsReady(self.port, timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    capacity.addOptions(parser, MODES)
    parser.add_argument("--repeat", type=int, default=1, help="run every configuration this many times, alternating")
    opts = parser.parse_args(argv)
    settings = MODES[opts.mode or "quick"] | {
        k: getattr(opts, k) for k in ("rate", "window", "settle") if getattr(opts, k)
    }
    vars(opts).update(settings, mode=opts.mode or "quick")
    ns = opts.n or settings["ns"]
    if not shutil.which("openssl"):
        capacity.log("the TLS benchmark needs the openssl program and libssl-dev (apt-get install openssl libssl-dev)")
        return 2
    limit = capacity.raiseFileLimit()
    if limit < max(ns) + 64:
        capacity.log(f"RLIMIT_NOFILE hard limit {limit} is too low for {max(ns)} listeners")
        return 2
    icecastBinary = shutil.which("icecast2") or shutil.which("icecast")
    haveIcecast = (
        "icecast" in opts.servers.split(",") and icecastBinary is not None and shutil.which("ffmpeg") is not None
    )
    tmp = tempfile.mkdtemp(prefix="txradio-tls-")
    os.chmod(tmp, 0o755)  # Icecast reads the certificate as its own user
    results: list[dict] = []
    try:
        loadgen = compileTLSLoadgen(tmp)
        key, cert, combined = makeCertificate(tmp)
        mp3 = capacity.makeTestFile(os.path.join(tmp, "music"), 60 if opts.mode == "smoke" else 240)
        print(f"machine: {capacity.machineDescription()}")
        print(f"txradio: {capacity.txradioVersion(opts.txradio_root)}")
        print(f"openssl: {subprocess.run(['openssl', 'version'], capture_output=True, text=True).stdout.strip()}")
        print(f"icecast: {capacity.icecastVersion(icecastBinary) if haveIcecast else 'skipped'}")
        print(
            f"TLS: ECDSA P-256 self-signed, full handshake per listener; ramp {opts.rate:g}/s, "
            f"settle {opts.settle:g} s, window {opts.window:g} s; RLIMIT_NOFILE {limit}; "
            f"servers on CPU {sorted(capacity.serverCPUs())}, loadgen on CPU {sorted(capacity.clientCPUs())}"
        )
        sys.stdout.flush()

        def txradio() -> TxradioTLSServer:
            return TxradioTLSServer(tmp, mp3, opts.txradio_root, key, cert)

        if opts.profile:
            return profileRun(txradio(), loadgen, ns[0], opts)
        for n in ns:
            for _ in range(opts.repeat):
                servers: list[capacity.Server] = []
                if "txradio" in opts.servers.split(","):
                    servers.append(txradio())
                if haveIcecast:
                    servers.append(IcecastTLSServer(tmp, mp3, icecastBinary, combined))
                for server in servers:
                    capacity.log(f"{server.name} (TLS): N={n}")
                    r = capacity.runOne(server, loadgen, n, True, opts, opts.stalled)
                    results.append(r)
                    capacity.log(
                        f"  cpu {r['server_cores']:.3f} cores ({r['server_us_per_listener_s']:.1f} µs/listener·s), "
                        f"rss {r['rss_kib'] / 1024:.0f} MiB, ttfa p50/p99 {r['ttfa_p50_ms']:.1f}/{r['ttfa_p99_ms']:.1f} ms, "
                        f"stalls {r['stalls']}, disconnects {r['disconnects']}, "
                        f"failed {r['connect_fail'] + r['head_fail']}, loadgen {r['cpu_window_cores']:.3f} cores"
                        + (
                            f", never-reading listeners dropped {r['stalled_dropped']} of {r['stalled_listeners']} "
                            f"after {r['drop_p50_s']:.1f}–{r['drop_max_s']:.1f} s (median–max)"
                            if opts.stalled
                            else ""
                        )
                    )
        print()
        print(pairedTable(results))
        if opts.json:
            with open(opts.json, "w") as f:
                json.dump(results, f, indent=1)
    finally:
        if opts.keep:
            capacity.log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if opts.mode == "smoke":
        bad = [
            r
            for r in results
            if r["server"] == "txradio" and (r["ok"] != r["listeners"] or r["no_audio"] or r["meta_bad"])
        ]
        if bad:
            capacity.log("smoke run: some TLS listeners did not get a clean stream")
            return 1
    return 0


def compileTLSLoadgen(tmp: str) -> str:
    """
    Build C{loadgen.c} with TLS (OpenSSL's C{libssl}).

    @return: the program's path.
    """
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise RuntimeError("no C compiler (cc) found: install gcc")
    out = os.path.join(tmp, "loadgen-tls")
    subprocess.run(
        [cc, "-O2", "-DLOADGEN_TLS", "-o", out, os.path.join(capacity.HERE, "loadgen.c"), "-lm", "-lssl", "-lcrypto"],
        check=True,
    )
    return out


def pairedTable(results: list[dict]) -> str:
    """
    One row per run pair (txradio then Icecast, in the order they ran), with
    the ratio of CPU per listener-second.
    """
    header = (
        "N",
        "server",
        "served",
        "CPU cores",
        "µs/listener·s",
        "tx/ice",
        "stalls",
        "failed",
        "TTFA p50 ms",
        "TTFA p99 ms",
        "RSS MiB",
        "KiB/listener",
        "loadgen cores",
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
    pending: dict | None = None
    for r in results:
        ratio = "-"
        if r["server"] == "txradio":
            pending = r
        elif pending is not None and pending["n"] == r["n"]:
            ratio = f"{pending['server_us_per_listener_s'] / max(r['server_us_per_listener_s'], 1e-9):.2f}"
        failed = r["disconnects"] + r["connect_fail"] + r["head_fail"] + r["no_audio"]
        lines.append(
            f"| {r['n']} | {r['server']} | {r['active_avg']:.0f} | {r['server_cores']:.3f} | "
            f"{r['server_us_per_listener_s']:.1f} | {ratio} | {r['stalls']} | {failed} | {r['ttfa_p50_ms']:.1f} | "
            f"{r['ttfa_p99_ms']:.1f} | {r['rss_kib'] / 1024:.0f} | {r['kib_per_listener']:.1f} | {r['cpu_window_cores']:.3f} |"
        )
    return "\n".join(lines)


def profileRun(server: capacity.Server, loadgen: str, n: int, opts) -> int:
    """
    Run txradio alone under py-spy and print where its time goes.
    """
    if not shutil.which("py-spy"):
        capacity.log("--profile needs py-spy (pip install py-spy)")
        return 2
    r = capacity.runOne(server, loadgen, n, True, opts, opts.stalled, opts.profile)
    print(pairedTable([r]))
    if "profile_file" not in r:
        print("py-spy produced no profile")
        return 1
    print()
    print(capacity.summariseProfile(r["profile_file"], top=30))
    dest = os.path.join(os.getcwd(), f"txradio-tls-profile-{n}.txt")
    shutil.copy(r["profile_file"], dest)
    print(f"\nraw py-spy stacks: {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
