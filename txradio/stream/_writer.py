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
"""

from __future__ import annotations

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
    @return: a callable taking L{bytes}: C{transport.write} itself for
        transports we do not know (TLS, test fakes), or a direct socket
        writer that falls back to C{transport.write} whenever the transport
        still holds buffered bytes.
    """
    if not _canSendDirectly(transport):
        return transport.write  # type: ignore[attr-defined, no-any-return]
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
