"""
The C{txradio} command (and C{python -m txradio}).

 - C{txradio check-config FILE}: validate a configuration file without
   starting anything; prints the mounts and exits 0, or prints the error
   and exits 1.
 - C{txradio sign-url MOUNT [--expires-in SECONDS]}: print a signed,
   expiring listen URL (see docs/security.md).
 - C{txradio htpasswd USER}: print an htpasswd line for a listener.
 - C{txradio [OPTIONS]}: run a station in the foreground, exactly as
   C{twistd -n txradio OPTIONS} does.
"""

from __future__ import annotations

import sys


def checkConfig(path: str) -> int:
    """
    Validate a configuration file.

    @param path: the TOML file.
    @return: the exit status: 0 when it is valid, 1 when it is not.
    """
    from txradio.config import ConfigError, loadConfig

    try:
        config = loadConfig(path)
    except ConfigError as error:
        print(f"txradio: {error}", file=sys.stderr)
        return 1
    print(f"{path}: valid; listening on {', '.join(config.server.listen)}")
    for mount in config.mounts:
        source = mount.playlist or mount.relay or "live sources only"
        extras = []
        if mount.live and mount.kind != "live":
            extras.append("takes live sources")
        if mount.fallback:
            extras.append(f"falls back to {mount.fallback}")
        if mount.push is not None:
            extras.append(f"pushed to {mount.push.url}")
        detail = f" ({'; '.join(extras)})" if extras else ""
        print(f"  {mount.path}: {mount.kind}: {source}{detail}")
    return 0


def main(argv: list[str] | None = None) -> None:
    """
    Run the command.

    @param argv: the arguments; C{sys.argv[1:]} by default.
    """
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["check-config"]:
        if len(args) != 2:
            print("usage: txradio check-config FILE", file=sys.stderr)
            raise SystemExit(2)
        raise SystemExit(checkConfig(args[1]))
    if args[:1] in (["sign-url"], ["htpasswd"]):
        from txradio._accesscli import htpasswdCommand, signURLCommand

        command = signURLCommand if args[0] == "sign-url" else htpasswdCommand
        raise SystemExit(command(args[1:]))
    from twisted.scripts.twistd import run

    sys.argv = ["twistd", "--nodaemon", "--pidfile=", "txradio", *args]
    run()


if __name__ == "__main__":
    main()
