"""
The C{txradio} command (and C{python -m txradio}).

 - C{txradio --version}: print txradio's version.
 - C{txradio check-config FILE}: validate a configuration file without
   starting anything; prints the mounts and exits 0, or prints the error
   and exits 1.
 - C{txradio hash-password}: read a password (prompting without echo on a
   terminal, else the first line of standard input) and print its hash,
   for C{admin_password = { hash = "…" }} or a mount's C{source_password}.
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


def hashPassword(stdin=None, prompt=None) -> int:
    """
    Print the hash of a password read from the terminal or standard input.

    @param stdin: where to read a piped password; C{sys.stdin} by default.
    @param prompt: reads a password from the terminal without echo;
        C{getpass.getpass} by default.
    @return: the exit status: 0, or 1 for an empty password or one given
        twice differently at the prompt.
    """
    from getpass import getpass

    from txradio.wire.passwordhash import hashPassword as makeHash

    stdin = sys.stdin if stdin is None else stdin
    prompt = getpass if prompt is None else prompt
    if stdin.isatty():
        password = prompt("Password: ")
        if password != prompt("Again: "):
            print("txradio: the passwords differ", file=sys.stderr)
            return 1
    else:
        password = stdin.readline().rstrip("\r\n")
    if not password:
        print("txradio: the password is empty", file=sys.stderr)
        return 1
    print(makeHash(password).text())
    return 0


def main(argv: list[str] | None = None) -> None:
    """
    Run the command.

    @param argv: the arguments; C{sys.argv[1:]} by default.
    """
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--version"]:
        # Before twistd, whose own --version prints Twisted's.
        from txradio._version import __version__

        print(f"txradio {__version__}")
        raise SystemExit(0)
    if args[:1] == ["check-config"]:
        if len(args) != 2:
            print("usage: txradio check-config FILE", file=sys.stderr)
            raise SystemExit(2)
        raise SystemExit(checkConfig(args[1]))
    if args[:1] == ["hash-password"]:
        if len(args) != 1:
            print("usage: txradio hash-password < password-file", file=sys.stderr)
            raise SystemExit(2)
        raise SystemExit(hashPassword())
    from twisted.scripts.twistd import run

    sys.argv = ["twistd", "--nodaemon", "--pidfile=", "txradio", *args]
    run()


if __name__ == "__main__":
    main()
