# -*- test-case-name: tests.test_writer -*-
"""
Writing to a listener's socket with as little per-write cost as possible.

Twisted's C{transport.write} appends to a buffer and asks the reactor to
watch the socket for writability; the bytes leave on the next reactor
iteration, and the watch is dropped again.  For a radio that writes a small
chunk to thousands of sockets a few times a second, that bookkeeping costs
more than the bytes.  When the transport's own buffer is empty, the bytes
can go straight to the socket with one C{send}; only what the kernel does
not take is handed to C{transport.write}, which then keeps its usual
guarantees (ordering, flow control, error handling).

A TLS listener's transport is Twisted's L{TLSMemoryBIOProtocol} over such a
socket transport.  Twisted holds each write for the next reactor iteration
(a delayed call a write, to gather small ones), encrypts it then, and hands
the records to the socket transport, which sends them one iteration later
still.  A listener writes one large chunk a tick, which gains nothing from
being gathered: its writer flushes whatever Twisted holds, encrypts the
chunk at once, and the records go to the socket through the same direct
writer as plain listeners' bytes (the socket transport's C{write} is
replaced by it, so that Twisted's own TLS records take the same road, in
order).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from errno import EAGAIN, EINTR, ENOBUFS, EWOULDBLOCK

from twisted.internet import abstract

_RETRY_LATER = {EAGAIN, EWOULDBLOCK, ENOBUFS, EINTR}


def _canSendDirectly(transport: object) -> bool:
    """
    Tell whether C{transport} is a plain socket transport whose buffer we
    understand.

    @param transport: a connected transport.
    @return: L{True} for Twisted's TCP (and UNIX) socket transports.
    """
    return (
        isinstance(transport, abstract.FileDescriptor)
        and hasattr(transport, "socket")
        and hasattr(transport, "_tempDataLen")
        and hasattr(transport, "dataBuffer")
        and hasattr(transport, "offset")
    )


def writerFor(transport: object) -> Callable[[bytes], None]:
    """
    Make a function that writes bytes to C{transport} in order.

    @param transport: the listener's transport.
    @return: a callable taking L{bytes}: for a socket transport, a direct
        socket writer that falls back to C{transport.write} whenever the
        transport still holds buffered bytes; for Twisted's TLS over a
        socket transport, one that encrypts at once (see L{_tlsWriter});
        C{transport.write} itself for transports we do not know (test
        fakes).
    """
    if _canSendDirectly(transport):
        return _directWriter(transport)
    tls = _tlsWriter(transport)
    if tls is not None:
        return tls
    return transport.write  # type: ignore[attr-defined, no-any-return]


def _tlsWriter(transport: object) -> Callable[[bytes], None] | None:
    """
    Make a writer for Twisted's TLS over a socket transport: encrypt each
    write at once and send the records straight to the socket.

    @param transport: the listener's transport.
    @return: the writer, or L{None} when C{transport} is not Twisted's TLS
        over a socket transport.
    """
    # Not imported: the module loads pyOpenSSL, which only a radio serving
    # TLS needs.  Without it loaded, no transport can be one of its own.
    tlsModule = sys.modules.get("twisted.protocols.tls")
    if tlsModule is None or not isinstance(transport, tlsModule.TLSMemoryBIOProtocol):
        return None
    lower = transport.transport
    if not _canSendDirectly(lower):
        return None
    if "write" not in vars(lower):
        # From now on the records Twisted's TLS writes (alerts, ours) all go
        # this way, in order.
        lower.write = _directWriter(lower)
    encrypt = tlsModule.TLSMemoryBIOProtocol.write.__get__(transport)
    if not isinstance(transport, tlsModule.BufferingTLSTransport):
        return encrypt  # type: ignore[no-any-return]
    # Bytes Twisted still holds for the next iteration (the response head)
    # go before ours.
    flush = transport._aggregator.flush

    def write(data: bytes) -> None:
        flush()
        encrypt(data)

    return write


def _directWriter(transport: object) -> Callable[[bytes], None]:
    """
    Make a direct socket writer for a socket transport.

    @param transport: a transport for which L{_canSendDirectly} holds.
    @return: the writer.
    """
    send = transport.socket.send  # type: ignore[attr-defined]
    bufferedWrite = transport.write  # type: ignore[attr-defined]

    def write(data: bytes) -> None:
        if (
            transport._tempDataLen  # type: ignore[attr-defined]
            or transport.offset != len(transport.dataBuffer)  # type: ignore[attr-defined]
            or not transport.connected  # type: ignore[attr-defined]
            or transport.disconnecting  # type: ignore[attr-defined]
        ):
            bufferedWrite(data)
            return
        try:
            sent = send(data)
        except OSError as error:
            # A would-block means the kernel buffer is full: let Twisted
            # queue it.  Any other error (reset, broken pipe) is left for
            # Twisted to find on its own write, so that the connection is
            # closed through its usual path.
            if error.errno not in _RETRY_LATER:
                bufferedWrite(data)
                return
            sent = 0
        if sent < len(data):
            bufferedWrite(data[sent:])

    return write
