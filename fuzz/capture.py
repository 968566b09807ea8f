"""
A tiny capture server for seeding fuzz corpora with real client requests.

Listens on 127.0.0.1:PORT, saves up to the first 4 KiB each connection sends
(waiting up to a second after the request head for a source's first audio) to
OUTDIR/<n>.bin, answers C{200 OK} so that sources start sending audio and
players try to read, and closes.  Used by hand; see fuzz/README.md.

Usage: python fuzz/capture.py PORT OUTDIR [COUNT]
"""

import os
import socket
import sys


def main() -> None:
    port, outdir = int(sys.argv[1]), sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    os.makedirs(outdir, exist_ok=True)
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(16)
    server.settimeout(30)
    for n in range(count):
        try:
            conn, _ = server.accept()
        except TimeoutError:
            break
        conn.settimeout(1.0)
        data = b""
        answered = False
        try:
            while len(data) < 4096:
                chunk = conn.recv(4096 - len(data))
                if not chunk:
                    break
                data += chunk
                if not answered and b"\n\n" in data.replace(b"\r\n", b"\n"):
                    answered = True
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n")
        except (TimeoutError, OSError):
            pass
        conn.close()
        with open(os.path.join(outdir, f"{n}.bin"), "wb") as f:
            f.write(data)
        print(f"saved {len(data)} bytes to {outdir}/{n}.bin", flush=True)


if __name__ == "__main__":
    main()
