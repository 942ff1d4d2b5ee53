"""asyncio over netchan, shaped as the standard library's.

    reader, writer = await netchan.aio.open_connection(stack, "198.18.0.1", 8080)
    server = await netchan.aio.start_server(handle, stack, 8080)
    transport, protocol = await netchan.aio.create_connection(stack, factory, host, port)
    server = await netchan.aio.create_server(stack, factory, port)

The streams are the stdlib's StreamReader/StreamWriter; protocols are
asyncio.Protocol or asyncio.BufferedProtocol. A protocol that defines
`window_received(view)` (any of the two kinds) gets the receive window itself
as a read-only memoryview instead, without a copy; it returns the number of
bytes it is done with (None: all), the rest stays for the next call.

How it is driven: one driver per (event loop, stack) watches Stack.fileno()
with loop.add_reader and keeps one loop.call_later for the stack's next timer
(Stack.next_deadline), so an idle loop sleeps in epoll. Each time it runs it
polls the stack until it has nothing to do, hands data, accepts and write
space to the transports, then arms the wake-up fd (Stack.arm_wakeup) before
the loop sleeps again. A stack must be on the real clock (a VirtualClock
moves only when a test moves it; the loop runs on real time). Work per wake
is one readiness check per transport of the stack.
"""
import asyncio
import collections
import errno
import socket

from netchan._core import READABLE, WRITABLE

__all__ = ["open_connection", "start_server", "create_connection", "create_server", "Server",
           "drive"]

IDLE_CHECK = 0.25        # seconds: the longest sleep (the stack checks its link every 100 ms)
POLL_ROUNDS = 16         # polls per wake before yielding to the loop's other callbacks
READ_ROUNDS = 4          # reads per transport per wake (fairness between connections)
MAX_READ = 256 * 1024

_drivers = {}            # (loop, stack) -> _Driver


def _driver(loop, stack):
    d = _drivers.get((loop, stack))
    if d is None or d.closed:
        d = _drivers[(loop, stack)] = _Driver(loop, stack)
    return d


def drive(stack):
    """Keep `stack` running on the running event loop (ACKs, handshakes,
    timers) even with no server or connection of this loop on it yet; the
    calls below do it for the stack they are given."""
    _driver(asyncio.get_running_loop(), stack)


class _Driver:
    def __init__(self, loop, stack):
        if stack.clock is not None:
            raise ValueError("netchan.aio needs a Stack on the real clock (the event loop "
                             "runs on real time; a VirtualClock moves only when told)")
        self.loop = loop
        self.stack = stack
        self.fd = stack.fileno()
        self.transports = set()
        self.servers = set()
        self.connecting = {}          # Connection -> future
        self.scheduled = False
        self.timer = None
        self.timer_when = None
        self.closed = False
        loop.add_reader(self.fd, self._run)
        self.kick()

    def kick(self):
        """Run soon (after an application call that may have set a timer or
        queued output)."""
        if not self.scheduled and not self.closed:
            self.scheduled = True
            self.loop.call_soon(self._run)

    def _on_timer(self):
        self.timer = None
        self._run()

    def _run(self):
        self.scheduled = False
        if self.closed:
            return
        stack = self.stack
        try:
            stack.clear_wakeup()
            busy = True
            for _ in range(POLL_ROUNDS):
                if not stack.poll(0):
                    busy = False
                    break
            self._dispatch()
            if busy or not stack.arm_wakeup():
                self.kick()
                return
            d = stack.next_deadline
        except OSError as exc:
            if exc.errno != errno.EBADF:
                raise
            self._shutdown()            # the stack was closed
            return
        delay = IDLE_CHECK if d is None else min(IDLE_CHECK, max(0.0, d - stack.now / 1e9))
        when = self.loop.time() + delay
        if self.timer is not None:
            if self.timer_when <= when:
                return              # fires first anyway: it re-arms then
            self.timer.cancel()
        self.timer_when = when
        self.timer = self.loop.call_at(when, self._on_timer)

    def _dispatch(self):
        stack = self.stack
        if self.connecting:
            for conn, fut in list(self.connecting.items()):
                if fut.done():
                    continue
                state = conn.state
                if state in ("ESTABLISHED", "CLOSE_WAIT"):
                    fut.set_result(None)
                elif state != "SYN_SENT" and state != "SYN_RECEIVED" or stack.readiness(conn):
                    fut.set_exception(_connect_error(conn))
        for srv in list(self.servers):
            srv._accept_ready()
        for t in list(self.transports):
            t._service()

    def _shutdown(self):
        self.closed = True
        try:
            self.loop.remove_reader(self.fd)
        except Exception:
            pass
        if self.timer is not None:
            self.timer.cancel()
        _drivers.pop((self.loop, self.stack), None)
        exc = ConnectionAbortedError("the netchan stack was closed")
        for fut in self.connecting.values():
            if not fut.done():
                fut.set_exception(exc)
        for t in list(self.transports):
            t._force_close(exc)
        for srv in list(self.servers):
            srv.close()


def _connect_error(conn):
    """The error a failed handshake left (refused, timed out, unreachable)."""
    try:
        conn.recv(1, timeout=0)
    except BlockingIOError:
        pass
    except OSError as exc:
        if exc.errno != errno.EBADF:        # EBADF: the block is gone, its error with it
            return exc
    return ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")


class _Transport(asyncio.Transport):
    """A Transport over one netchan Connection (the shape of asyncio's
    selector transports: write buffer with high/low water marks, pause and
    resume of reading, write_eof, close after the buffer is sent)."""

    def __init__(self, driver, conn, protocol, server=None):
        super().__init__({"peername": conn.getpeername(), "sockname": conn.getsockname(),
                          "socket": None, "netchan_connection": conn})
        self._driver = driver
        self._loop = driver.loop
        self._conn = conn
        self._protocol = protocol
        self._server = server
        self._buffer = collections.deque()
        self._buffer_size = 0
        self._closing = False
        self._eof = False                # write_eof called
        self._eof_received = False
        self._paused = False
        self._protocol_paused = False
        self._conn_lost = 0
        self._abort_conn = False          # reset rather than close (an error, abort())
        self._started = False
        self._high = 64 * 1024
        self._low = 16 * 1024
        self._waiter = self._loop.create_future()
        if server is not None:
            server._attach()
        driver.transports.add(self)
        self._loop.call_soon(self._connection_made)

    def _connection_made(self):
        try:
            self._protocol.connection_made(self)
        except BaseException as exc:
            if not self._waiter.done():
                self._waiter.set_exception(exc)
            self._force_close(exc)
            return
        self._started = True
        if not self._waiter.done():
            self._waiter.set_result(None)
        self._driver.kick()

    def __repr__(self):
        return f"<netchan.aio transport {self._conn!r}>"

    # ---- reading --------------------------------------------------------------

    def _service(self):
        if not self._started or self._conn_lost:
            return
        try:
            ready = self._driver.stack.readiness(self._conn)
        except OSError as exc:
            self._force_close(exc)
            return
        if ready & READABLE and not self._paused and not self._eof_received and not self._closing:
            if self._read_ready():
                self._driver.kick()         # more to read: after the others had their turn
        if self._buffer and ready & WRITABLE and not self._conn_lost:
            self._write_ready()

    def _read_ready(self):
        conn = self._conn
        proto = self._protocol
        stack = self._driver.stack
        for _ in range(READ_ROUNDS):
            try:
                if hasattr(proto, "window_received"):
                    view = conn.recv_view(timeout=0)
                    n = len(view)
                    if n:
                        try:
                            used = proto.window_received(view)
                        finally:
                            view.release()
                        conn.consume(n if used is None else used)
                elif isinstance(proto, asyncio.BufferedProtocol):
                    buf = proto.get_buffer(-1)
                    if not len(buf):
                        raise RuntimeError("get_buffer() returned an empty buffer")
                    n = conn.recv_into(buf, timeout=0)
                    if n:
                        proto.buffer_updated(n)
                else:
                    data = conn.recv(MAX_READ, timeout=0)
                    n = len(data)
                    if n:
                        proto.data_received(data)
            except BlockingIOError:
                return
            except (ConnectionError, TimeoutError, OSError) as exc:
                self._force_close(exc)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal error: protocol failed to handle data")
                return
            if n == 0:
                self._on_eof()
                return
            if self._paused or self._closing or self._conn_lost:
                return
            if not stack.readiness(conn) & READABLE:
                return
        return True

    def _on_eof(self):
        self._eof_received = True
        try:
            keep_open = self._protocol.eof_received()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.eof_received() call failed.")
            return
        if not keep_open:
            self.close()

    def is_reading(self):
        return not self._paused and not self._closing

    def pause_reading(self):
        self._paused = True

    def resume_reading(self):
        if self._paused:
            self._paused = False
            self._driver.kick()

    # ---- writing --------------------------------------------------------------

    def write(self, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be a bytes-like object, not {type(data).__name__!r}")
        if self._eof:
            raise RuntimeError("Cannot call write() after write_eof()")
        if not data or self._conn_lost:
            return
        n = 0
        if not self._buffer:
            try:
                n = self._conn.send(data, timeout=0)
            except BlockingIOError:
                n = 0
            except (ConnectionError, OSError) as exc:
                self._force_close(exc)
                return
        if n < len(data):
            rest = bytes(memoryview(data)[n:])
            self._buffer.append(rest)
            self._buffer_size += len(rest)
            self._maybe_pause_protocol()
        self._driver.kick()

    def writelines(self, list_of_data):
        self.write(b"".join(list_of_data))

    def _write_ready(self):
        while self._buffer:
            chunk = self._buffer[0]
            try:
                n = self._conn.send(chunk, timeout=0)
            except BlockingIOError:
                break
            except (ConnectionError, OSError) as exc:
                self._force_close(exc)
                return
            self._buffer_size -= n
            if n < len(chunk):
                self._buffer[0] = chunk[n:]
                break
            self._buffer.popleft()
        self._maybe_resume_protocol()
        if not self._buffer:
            if self._closing:
                self._conn_lost += 1
                self._loop.call_soon(self._call_connection_lost, None)
            elif self._eof:
                self._shutdown_write()

    def _shutdown_write(self):
        try:
            self._conn.shutdown(socket.SHUT_WR)
        except OSError as exc:
            self._force_close(exc)

    def can_write_eof(self):
        return True

    def write_eof(self):
        if self._closing or self._eof:
            return
        self._eof = True
        if not self._buffer:
            self._shutdown_write()

    def get_write_buffer_size(self):
        return self._buffer_size

    def get_write_buffer_limits(self):
        return (self._low, self._high)

    def set_write_buffer_limits(self, high=None, low=None):
        if high is None:
            high = 64 * 1024 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high, self._low = high, low
        self._maybe_pause_protocol()

    def _maybe_pause_protocol(self):
        if self._buffer_size <= self._high or self._protocol_paused:
            return
        self._protocol_paused = True
        try:
            self._protocol.pause_writing()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler({"message": "protocol.pause_writing() failed",
                                               "exception": exc, "transport": self,
                                               "protocol": self._protocol})

    def _maybe_resume_protocol(self):
        if self._protocol_paused and self._buffer_size <= self._low:
            self._protocol_paused = False
            try:
                self._protocol.resume_writing()
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._loop.call_exception_handler({"message": "protocol.resume_writing() failed",
                                                   "exception": exc, "transport": self,
                                                   "protocol": self._protocol})

    # ---- closing ---------------------------------------------------------------

    def is_closing(self):
        return self._closing

    def close(self):
        if self._closing:
            return
        self._closing = True
        if not self._buffer:
            self._conn_lost += 1
            self._loop.call_soon(self._call_connection_lost, None)

    def abort(self):
        self._force_close(None)

    def _fatal_error(self, exc, message):
        self._loop.call_exception_handler({"message": message, "exception": exc,
                                           "transport": self, "protocol": self._protocol})
        self._force_close(exc)

    def _force_close(self, exc):
        if self._conn_lost:
            return
        self._buffer.clear()
        self._buffer_size = 0
        self._closing = True
        self._conn_lost += 1
        self._abort_conn = True
        self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc):
        try:
            if self._started:
                self._protocol.connection_lost(exc)
        finally:
            if self._abort_conn:
                self._conn.abort()
            else:
                self._conn.close()
            self._driver.transports.discard(self)
            self._driver.kick()
            self._protocol = None
            if self._server is not None:
                self._server._detach()
                self._server = None

    def get_protocol(self):
        return self._protocol

    def set_protocol(self, protocol):
        self._protocol = protocol


class Server(asyncio.AbstractServer):
    """What create_server / start_server return (asyncio.Server's shape)."""

    def __init__(self, driver, listener, protocol_factory, backlog):
        self._driver = driver
        self._loop = driver.loop
        self._listener = listener
        self._factory = protocol_factory
        self._backlog = backlog
        self._serving = False
        self._active = 0
        self._waiters = []
        self._transports = set()

    def __repr__(self):
        return f"<netchan.aio.Server {self._listener!r}>"

    @property
    def sockets(self):
        return ()

    @property
    def listener(self):
        return self._listener

    def get_loop(self):
        return self._loop

    def is_serving(self):
        return self._serving

    async def start_serving(self):
        if self._listener is None:
            raise RuntimeError("the server is closed")
        if not self._serving:
            self._serving = True
            self._driver.servers.add(self)
            self._driver.kick()

    async def serve_forever(self):
        await self.start_serving()
        fut = self._loop.create_future()
        self._waiters.append(fut)
        try:
            await fut
        finally:
            self.close()

    def _accept_ready(self):
        if not self._serving:
            return
        for _ in range(self._backlog):
            try:
                conn = self._listener.accept(timeout=0)
            except BlockingIOError:
                return
            except OSError as exc:
                self._loop.call_exception_handler({"message": "accept failed", "exception": exc})
                return
            _Transport(self._driver, conn, self._factory(), server=self)

    def _attach(self):
        self._active += 1

    def _detach(self):
        self._active -= 1
        if self._active == 0 and self._listener is None:
            self._wake()

    def _wake(self):
        for w in self._waiters:
            if not w.done():
                w.set_result(None)
        self._waiters = []

    def close(self):
        if self._listener is None:
            return
        self._serving = False
        self._driver.servers.discard(self)
        try:
            self._listener.close()
        except OSError:
            pass
        self._listener = None
        for w in self._waiters:           # serve_forever ends
            if not w.done():
                w.cancel()
        self._waiters = []
        if self._active == 0:
            self._wake()

    def close_clients(self):
        for t in list(self._driver.transports):
            if t._server is self:
                t.close()

    def abort_clients(self):
        for t in list(self._driver.transports):
            if t._server is self:
                t.abort()

    async def wait_closed(self):
        """Until close() was called and every connection it accepted ended."""
        if self._listener is None and self._active == 0:
            return
        fut = self._loop.create_future()
        self._waiters.append(fut)
        await fut


async def create_connection(stack, protocol_factory, host, port):
    """Connect to (host, port) through `stack`; (transport, protocol) once
    the connection is established and protocol.connection_made has run."""
    loop = asyncio.get_running_loop()
    drv = _driver(loop, stack)
    conn = stack.connect((host, port), timeout=0)
    fut = loop.create_future()
    drv.connecting[conn] = fut
    drv.kick()
    try:
        await fut
    except BaseException:
        conn.abort()
        raise
    finally:
        drv.connecting.pop(conn, None)
    protocol = protocol_factory()
    transport = _Transport(drv, conn, protocol)
    await transport._waiter
    return transport, protocol


async def create_server(stack, protocol_factory, port, *, backlog=100, start_serving=True):
    """Listen on TCP `port` of `stack`; each accepted connection gets
    protocol_factory() and a transport."""
    loop = asyncio.get_running_loop()
    drv = _driver(loop, stack)
    server = Server(drv, stack.listen(port, backlog=backlog), protocol_factory, backlog)
    if start_serving:
        await server.start_serving()
    return server


async def open_connection(stack, host, port, *, limit=2 ** 16):
    """(StreamReader, StreamWriter) of a connection to (host, port)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport, _ = await create_connection(stack, lambda: protocol, host, port)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    return reader, writer


async def start_server(client_connected_cb, stack, port, *, limit=2 ** 16, backlog=100,
                       start_serving=True):
    """Serve TCP `port` of `stack`: client_connected_cb(reader, writer) for
    each connection (a coroutine function becomes a task)."""
    loop = asyncio.get_running_loop()

    def factory():
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        return asyncio.StreamReaderProtocol(reader, client_connected_cb, loop=loop)

    return await create_server(stack, factory, port, backlog=backlog, start_serving=start_serving)
