"""
The web face under load: 2,000 ICY listeners playing while keep-alive
clients request a mix of pages, with nginx's autoindex on the same music
folder as the anchor for folder listings.

    python3 benchmarks/webload.py            # 2,000 listeners, 2,400 songs
    python3 benchmarks/webload.py --smoke    # 200 listeners, 300 songs, < 60 s
    python3 benchmarks/webload.py --before-root /tmp/txradio-main

The music folder is generated: one short ffmpeg-made MP3 copied into nested
folders (C{bulk/fNN/NNN Song.mp3}) with different tags written by mutagen.
txradio runs as a child process on 127.0.0.1 (pinned to one core, as in
C{capacity.py}); the listeners are C{loadgen.c} and the page clients are
C{wrk} with a Lua script cycling the URLs (on the other core).  During the
listeners' steady window it runs, one after the other:

1. the mix against txradio: C{/}, C{/status-json.xsl}, C{/api/v1/status},
   two library folders, a sub-tree M3U of every song, a search and
   C{/stream.m3u8};
2. library folder listings only against txradio;
3. the same listings against nginx autoindex on the same folder (nginx
   started here with a temporary configuration, pinned to the server core);

and reports requests/s, p50/p99 latency, answers that were not 2xx/3xx and
the listeners' stalls.  Unless C{--cold}, every URL is first requested once,
one after the other, and each of these first visits is timed (what a page's
first visitor waits, without the other clients' noise).  With C{--before-root} it runs the same against
another txradio tree (e.g. C{git archive main | tar -x -C DIR}) first.

The figures are noisy on a shared machine: compare the ratios within one
run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from capacity import (  # noqa: E402
    ROOT,
    TxradioServer,
    childSetup,
    clientCPUs,
    compileLoadgen,
    freePort,
    machineDescription,
    makeTestFile,
    probe,
    raiseFileLimit,
    serverCPUs,
    txradioVersion,
)

MODES = {
    "smoke": dict(listeners=200, folders=6, perFolder=50, rate=500, phase=6.0, warm=2.0),
    "full": dict(listeners=2000, folders=20, perFolder=120, rate=1000, phase=20.0, warm=5.0),
}

CONNECTIONS = 64
"""Keep-alive page clients (as in the issue's measurement)."""

ARTISTS = ["Miles Quartet", "Blue Train", "Orchard Lane", "Night Ferry", "Copper Sky", "Velvet Static"]

LUA = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p99_us":%%d,"max_us":%%d,' ..
    '"bad_status":%%d,"connect":%%d,"read":%%d,"write":%%d,"timeout":%%d,"bytes":%%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout, summary.bytes))
end
"""

NGINX_CONFIG = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/nginx-body;
  proxy_temp_path {tmp}/nginx-proxy;
  fastcgi_temp_path {tmp}/nginx-fastcgi;
  uwsgi_temp_path {tmp}/nginx-uwsgi;
  scgi_temp_path {tmp}/nginx-scgi;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    location /library/ {{ alias {music}/; autoindex on; }}
  }}
}}
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def makeLibrary(music: str, tone: str, folders: int, perFolder: int) -> int:
    """
    Fill C{music} with C{folders × perFolder} tagged copies of C{tone}.

    @return: the number of songs.
    """
    from mutagen.easyid3 import EasyID3

    with open(tone, "rb") as f:
        data = f.read()
    count = 0
    for folder in range(folders):
        path = os.path.join(music, "bulk", f"f{folder:02d}")
        os.makedirs(path, exist_ok=True)
        for n in range(perFolder):
            song = os.path.join(path, f"{n:03d} Song {folder}-{n}.mp3")
            with open(song, "wb") as f:
                f.write(data)
            tags = EasyID3(song)
            tags["title"] = f"Song {folder}-{n} {'Blue' if n % 7 == 0 else 'Green'}"
            tags["artist"] = ARTISTS[(folder + n) % len(ARTISTS)]
            tags["album"] = f"Album {folder:02d}"
            tags["tracknumber"] = str(n + 1)
            tags.save()
            count += 1
    return count


def startNginx(tmp: str, music: str) -> tuple[subprocess.Popen, int] | None:
    """
    Start nginx with autoindex on the music folder.

    @return: the process and its port, or L{None} without nginx.
    """
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if binary is None:
        return None
    port = freePort()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONFIG.format(tmp=tmp, port=port, music=music))
    proc = subprocess.Popen(
        [binary, "-c", conf, "-p", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=childSetup(serverCPUs()),
    )
    for _ in range(50):
        try:
            import urllib.request

            urllib.request.urlopen(f"http://127.0.0.1:{port}/library/bulk/", timeout=1).read()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    return None


def wrk(tmp: str, port: int, paths: list[str], seconds: float, name: str) -> dict:
    """
    Run wrk with C{CONNECTIONS} keep-alive clients cycling C{paths}.

    @return: its figures.
    """
    script = os.path.join(tmp, f"{name}.lua")
    with open(script, "w") as f:
        f.write(LUA % ", ".join(json.dumps(p) for p in paths))
    cmd = [
        "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, int(seconds))}s", "--timeout", "10s",
        "-s", script, f"http://127.0.0.1:{port}",
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, preexec_fn=childSetup(clientCPUs()), check=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("JSON "))
    result = json.loads(line[5:])
    seconds = result["duration_us"] / 1e6
    result.update(
        name=name,
        rps=result["requests"] / seconds,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        non2xx3xx=result["bad_status"],
        socket_errors=result["connect"] + result["read"] + result["write"] + result["timeout"],
    )
    return result


def firstVisits(port: int, paths: list[str]) -> dict[str, float]:
    """
    Request each path once, one after the other.

    @return: milliseconds to the end of each answer, by path.
    """
    import urllib.error
    import urllib.request

    times = {}
    for path in paths:
        started = time.monotonic()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30).read()
        except (OSError, urllib.error.HTTPError):
            pass
        times[path] = (time.monotonic() - started) * 1000
    return times


def runServer(label: str, root: str, tmp: str, tone: str, loadgen: str, opts, mode: dict,
              mix: list[str], listings: list[str], nginxPort: int | None) -> dict:
    """
    One txradio tree under listeners and page load.
    """
    server = TxradioServer(tmp, tone, root)
    server.start()
    results: dict = {"label": label, "root": root}
    try:
        kbps = probe(server.port, 60)
        if kbps is None:
            raise RuntimeError(f"txradio ({label}) did not start streaming")
        time.sleep(mode["warm"])  # the library's index is built at start
        phases = 3 if nginxPort else 2
        window = mode["phase"] * phases + 4
        settle = mode["listeners"] / mode["rate"] + 3
        cmd = [
            loadgen, "--port", str(server.port), "--n", str(mode["listeners"]), "--rate", str(mode["rate"]),
            "--settle", str(settle), "--window", str(window), "--bitrate", str(kbps * 1000), "--linger", "1",
        ]
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=childSetup(clientCPUs())
        )
        started = threading.Event()

        def watch() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                if line.startswith("phase steady_start"):
                    started.set()

        threading.Thread(target=watch, daemon=True).start()
        if not started.wait(settle + mode["listeners"] / mode["rate"] + 60):
            proc.kill()
            raise RuntimeError("the load generator did not reach its steady window")
        time.sleep(1)
        # Steady state: every URL once before measuring (a cold folder page
        # costs a thread job and a render; the figures without this are in
        # docs/performance.md).
        # Steady state: every URL once before measuring, one after the
        # other, each timed: what a page's first visitor waits ("first").
        results["first"] = firstVisits(server.port, mix + listings) if opts.warm else {}
        log(f"{label}: mix")
        results["mix"] = wrk(tmp, server.port, mix, mode["phase"], f"{label}-mix")
        log(f"{label}: listings")
        results["listings"] = wrk(tmp, server.port, listings, mode["phase"], f"{label}-listings")
        if nginxPort:
            log(f"{label}: nginx listings")
            results["nginx"] = wrk(tmp, nginxPort, listings, mode["phase"], f"{label}-nginx")
        out, _ = proc.communicate(timeout=window + 120)
        results["listeners"] = json.loads(out.strip().splitlines()[-1])
    finally:
        server.stop()
    return results


def row(name: str, r: dict) -> str:
    return (
        f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
        f"{r['non2xx3xx']} of {r['requests']:,} | {r['socket_errors']} |"
    )


def table(all: list[dict]) -> str:
    lines = [
        "| run | requests/s | p50 ms | p99 ms | not 2xx/3xx | socket errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in all:
        lines.append(row(f"{r['label']}: mix", r["mix"]))
        lines.append(row(f"{r['label']}: folder listings", r["listings"]))
        if "nginx" in r:
            lines.append(row(f"nginx autoindex (during {r['label']})", r["nginx"]))
    visited = [r for r in all if r.get("first")]
    if visited:
        lines.append("")
        lines.append("| first visit, ms | " + " | ".join(r["label"] for r in visited) + " |")
        lines.append("|---|" + "---:|" * len(visited))
        for path in visited[0]["first"]:
            lines.append(f"| `{path}` | " + " | ".join(f"{r['first'].get(path, -1):.1f}" for r in visited) + " |")
        lines.append("| total | " + " | ".join(f"{sum(r['first'].values()):.1f}" for r in visited) + " |")
    lines.append("")
    lines.append("| run | listeners | ok | stalls | listeners stalling | disconnects |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for r in all:
        li = r["listeners"]
        lines.append(
            f"| {r['label']} | {li['n']} | {li['ok']} | {li['stalls']} | {li['listeners_stalling']} | {li['disconnects']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a short run (< 60 s)")
    parser.add_argument("--before-root", help="also run this txradio tree first (e.g. an export of main)")
    parser.add_argument("--cold", dest="warm", action="store_false",
                        help="do not request every URL once before measuring")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    opts = parser.parse_args(argv)
    mode = MODES["smoke" if opts.smoke else "full"]
    if not shutil.which("wrk"):
        log("wrk is needed: apt-get install wrk")
        return 2
    raiseFileLimit()
    tmp = tempfile.mkdtemp(prefix="txradio-webload-")
    os.chmod(tmp, 0o755)  # nginx's workers run as another user
    try:
        music = os.path.join(tmp, "music")
        tone = makeTestFile(music, 2)
        if tone is None:
            log("ffmpeg is needed")
            return 2
        songs = makeLibrary(music, tone, mode["folders"], mode["perFolder"])
        log(f"library: {songs} songs in {music}")
        loadgen = compileLoadgen(tmp)
        listings = ["/library/", "/library/bulk/"] + [f"/library/bulk/f{n:02d}/" for n in range(mode["folders"])]
        mix = [
            "/",
            "/status-json.xsl",
            "/api/v1/status",
            "/library/bulk/",
            "/library/bulk/f03/",
            "/library/bulk/?m3u=tree",
            "/library/?q=blue+miles",
            "/stream.m3u8",
        ]
        nginx = startNginx(tmp, music)
        if nginx is None:
            log("nginx not found: no anchor")
        runs = []
        try:
            if opts.before_root:
                runs.append(runServer("before", opts.before_root, tmp, tone, loadgen, opts, mode, mix, listings,
                                      nginx[1] if nginx else None))
            runs.append(runServer("after", ROOT, tmp, tone, loadgen, opts, mode, mix, listings,
                                  nginx[1] if nginx else None))
        finally:
            if nginx:
                nginx[0].terminate()
                nginx[0].wait(10)
        nginxVersion = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
        print(f"Machine: {machineDescription()}")
        print(f"txradio: {txradioVersion(ROOT)}; {nginxVersion}; wrk -t1 -c{CONNECTIONS}; "
              f"{mode['listeners']} listeners; {songs} songs")
        print(f"Mix: {' '.join(mix)}")
        print()
        print(table(runs))
        if opts.json:
            with open(opts.json, "w") as f:
                json.dump(runs, f, indent=2)
        return 0
    finally:
        if not opts.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"kept {tmp}")


if __name__ == "__main__":
    sys.exit(main())
