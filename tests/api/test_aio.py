"""One asyncio suite, run against kernel sockets (asyncio's own functions on
127.0.0.1) and against netchan.aio, each under the stdlib loop and uvloop
(when installed), as uvloop runs its tests against asyncio.

The netchan side is two Stacks on the two ends of one shm link in this
process: both are driven by the same event loop through their wake-up fds
(each end's FIFO bell is rung by the other's transmit), on the real clock,
exactly as two processes would be, without a second interpreter. (A pair
link would work too, but it is meant for the virtual clock.)"""
import asyncio
import hashlib
import itertools
import random
import resource
import socket
import time

import pytest

import netchan
import netchan.aio
from conftest import CLIENT_IP, SERVER_IP, unique

try:
    import uvloop
except ImportError:          # the test extra installs it; the rest runs without
    uvloop = None

TEST_TIMEOUT = 20


class KernelNet:
    kind = "kernel"

    async def start_server(self, cb, **kw):
        srv = await asyncio.start_server(cb, "127.0.0.1", 0, **kw)
        return srv, srv.sockets[0].getsockname()[1]

    async def open_connection(self, port):
        return await asyncio.open_connection("127.0.0.1", port)

    async def create_server(self, factory):
        srv = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
        return srv, srv.sockets[0].getsockname()[1]

    async def create_connection(self, factory, port):
        return await asyncio.get_running_loop().create_connection(factory, "127.0.0.1", port)

    def closed_port(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def close(self):
        pass


class NetchanNet:
    kind = "netchan"

    def __init__(self):
        name = unique("aio")
        self.server_stack = netchan.Stack(f"shm:{name}", ip=f"{SERVER_IP}/15")
        self.client_stack = netchan.Stack(f"shm:{name}", ip=f"{CLIENT_IP}/15")
        self.ports = itertools.count(8000)

    async def start_server(self, cb, **kw):
        port = next(self.ports)
        return await netchan.aio.start_server(cb, self.server_stack, port, **kw), port

    async def open_connection(self, port):
        netchan.aio.drive(self.server_stack)        # the peer runs (answers) in this loop too
        return await netchan.aio.open_connection(self.client_stack, SERVER_IP, port)

    async def create_server(self, factory):
        port = next(self.ports)
        return await netchan.aio.create_server(self.server_stack, factory, port), port

    async def create_connection(self, factory, port):
        netchan.aio.drive(self.server_stack)
        return await netchan.aio.create_connection(self.client_stack, factory, SERVER_IP, port)

    def closed_port(self):
        return 9

    def close(self):
        self.client_stack.close(linger=0)
        self.server_stack.close(linger=0)


LOOPS = ["asyncio", pytest.param("uvloop", marks=pytest.mark.skipif(uvloop is None,
                                                                     reason="uvloop not installed"))]


@pytest.fixture(params=["kernel", "netchan"])
def net(request):
    n = KernelNet() if request.param == "kernel" else NetchanNet()
    yield n
    n.close()


@pytest.fixture(params=LOOPS)
def run(request):
    factory = uvloop.new_event_loop if request.param == "uvloop" else asyncio.new_event_loop

    def run(coro):
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(asyncio.wait_for(coro, TEST_TIMEOUT))
    return run


# ---- the shared suite ------------------------------------------------------------

def test_stream_echo(net, run):
    async def main():
        async def handle(reader, writer):
            while line := await reader.readline():
                writer.write(line)
                await writer.drain()
            writer.close()
            await writer.wait_closed()

        srv, port = await net.start_server(handle)
        reader, writer = await net.open_connection(port)
        assert writer.get_extra_info("peername")[1] == port
        for i in range(100):
            writer.write(b"line %d\n" % i)
        await writer.drain()
        for i in range(100):
            assert await reader.readline() == b"line %d\n" % i
        writer.write_eof()
        assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
        srv.close()
        await srv.wait_closed()
    run(main())


def test_protocol_callbacks(net, run):
    async def main():
        loop = asyncio.get_running_loop()
        events = []
        server_lost = loop.create_future()

        class Server(asyncio.Protocol):
            def connection_made(self, transport):
                self.transport, self.buf = transport, bytearray()
                events.append("made")

            def data_received(self, data):
                self.buf += data

            def eof_received(self):
                events.append("eof")
                self.transport.write(b"got %d" % len(self.buf))
                # returning None closes the transport

            def connection_lost(self, exc):
                events.append("lost")
                server_lost.set_result(exc)

        class Client(asyncio.Protocol):
            def __init__(self):
                self.buf, self.eof, self.lost = bytearray(), False, loop.create_future()

            def data_received(self, data):
                assert not self.eof
                self.buf += data

            def eof_received(self):
                self.eof = True

            def connection_lost(self, exc):
                self.lost.set_result(exc)

        srv, port = await net.create_server(Server)
        transport, client = await net.create_connection(Client, port)
        assert transport.can_write_eof()
        transport.write(b"a" * 10000)
        transport.write_eof()
        assert await client.lost is None
        assert client.eof and bytes(client.buf) == b"got 10000"
        assert await server_lost is None
        assert events == ["made", "eof", "lost"]
        srv.close()
        await srv.wait_closed()
    run(main())


def test_buffered_protocol(net, run):
    payload = random.Random(7).randbytes(2 << 20)

    async def main():
        loop = asyncio.get_running_loop()

        class Sink(asyncio.BufferedProtocol):
            def connection_made(self, transport):
                self.transport, self.buf, self.h, self.n = transport, bytearray(4096), hashlib.sha256(), 0

            def get_buffer(self, sizehint):
                return self.buf

            def buffer_updated(self, nbytes):
                self.h.update(self.buf[:nbytes])
                self.n += nbytes

            def eof_received(self):
                self.transport.write(b"%d %s" % (self.n, self.h.hexdigest().encode()))

        srv, port = await net.create_server(Sink)
        reader, writer = await net.open_connection(port)
        writer.write(payload)
        await writer.drain()
        writer.write_eof()
        assert await reader.read() == b"%d %s" % (len(payload),
                                                  hashlib.sha256(payload).hexdigest().encode())
        writer.close()
        await writer.wait_closed()
        srv.close()
        await srv.wait_closed()
    run(main())


def _small_kernel_buffers(transport, option):
    """Kernel sockets only: loopback TCP autotunes its buffers to megabytes,
    so how much a writer can push before its transport buffers (and pauses)
    depends on the machine; fixed small buffers make that the same everywhere."""
    import socket
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, option, 65536)


def test_write_flow_control_with_a_slow_reader(net, run):
    import socket
    chunk = b"z" * 65536

    async def main():
        loop = asyncio.get_running_loop()
        got = loop.create_future()

        class Slow(asyncio.Protocol):
            def connection_made(self, transport):
                self.transport, self.n = transport, 0
                # reads nothing until told; paused one loop turn later, since
                # CPython 3.11.2's selector transport (Debian 12's python3)
                # starts reading after connection_made and so ignores a pause
                # made inside it
                asyncio.get_running_loop().call_soon(transport.pause_reading)
                _small_kernel_buffers(transport, socket.SO_RCVBUF)
                slow.append(self)

            def data_received(self, data):
                self.n += len(data)

            def eof_received(self):
                got.set_result(self.n)

        class Writer(asyncio.Protocol):
            def connection_made(self, transport):
                self.paused = 0
                self.resumed = loop.create_future()

            def pause_writing(self):
                self.paused += 1

            def resume_writing(self):
                if not self.resumed.done():
                    self.resumed.set_result(None)

        slow = []
        srv, port = await net.create_server(Slow)
        transport, w = await net.create_connection(Writer, port)
        _small_kernel_buffers(transport, socket.SO_SNDBUF)
        sent = 0
        while not w.paused and sent < 256 << 20:
            transport.write(chunk)
            sent += len(chunk)
            await asyncio.sleep(0)
        assert w.paused == 1 and transport.get_write_buffer_size() > 64 * 1024
        while not slow:
            await asyncio.sleep(0)
        slow[0].transport.resume_reading()
        await w.resumed
        transport.write_eof()
        assert await got == sent
        transport.close()
        srv.close()
        await srv.wait_closed()
    run(main())


def test_drain_waits_for_a_slow_reader(net, run):
    async def main():
        async def slow_reader(reader, writer):
            n = 0
            while data := await reader.read(4096):
                n += len(data)
                await asyncio.sleep(0)
            writer.write(b"%d" % n)
            writer.close()

        srv, port = await net.start_server(slow_reader)
        reader, writer = await net.open_connection(port)
        total = 0
        for _ in range(64):
            writer.write(b"d" * 131072)
            total += 131072
            await writer.drain()
            assert writer.transport.get_write_buffer_size() <= 64 * 1024
        writer.write_eof()
        assert int(await reader.read()) == total
        writer.close()
        srv.close()
        await srv.wait_closed()
    run(main())


def test_many_concurrent_connections(net, run):
    async def main():
        async def echo(reader, writer):
            writer.write(await reader.readexactly(1000))
            await writer.drain()
            writer.close()

        srv, port = await net.start_server(echo, backlog=100)

        async def client(i):
            reader, writer = await net.open_connection(port)
            msg = bytes([i]) * 1000
            writer.write(msg)
            assert await reader.readexactly(1000) == msg
            assert await reader.read() == b""
            writer.close()
            await writer.wait_closed()
            return i

        assert sorted(await asyncio.gather(*(client(i) for i in range(50)))) == list(range(50))
        srv.close()
        await srv.wait_closed()
    run(main())


def test_connect_to_a_closed_port_is_refused(net, run):
    async def main():
        with pytest.raises(ConnectionRefusedError):
            await net.open_connection(net.closed_port())
    run(main())


# ---- netchan only ----------------------------------------------------------------

@pytest.fixture
def nc():
    n = NetchanNet()
    yield n
    n.close()


def test_idle_server_sleeps(nc, run):
    """An idle server with an open connection costs (almost) no CPU: the loop
    sleeps in epoll on the stacks' bells. Measured over 0.5 s of real time
    with getrusage; the bound is generous (a spinning loop uses ~0.5 s)."""
    async def main():
        async def echo(reader, writer):
            while data := await reader.read(100):
                writer.write(data)
            writer.close()

        srv, port = await nc.start_server(echo)
        reader, writer = await nc.open_connection(port)
        writer.write(b"hello")
        assert await reader.readexactly(5) == b"hello"
        before = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        await asyncio.sleep(0.5)         # the measurement interval, not a synchronisation
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        assert cpu < 0.1 * wall, f"{cpu:.3f} s of CPU in {wall:.3f} s idle"
        writer.write(b"again")               # and it still answers at once
        assert await reader.readexactly(5) == b"again"
        writer.close()
        srv.close()
        await srv.wait_closed()
    run(main())


def test_window_received_is_zero_copy(nc, run):
    """A protocol with window_received(view) reads the receive window in
    place: the views are read-only slices of the window (no bytes object)."""
    payload = random.Random(3).randbytes(1 << 20)

    async def main():
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        class InPlace(asyncio.BufferedProtocol):
            def connection_made(self, transport):
                self.h, self.n, self.views = hashlib.sha256(), 0, 0

            def get_buffer(self, sizehint):
                raise AssertionError("window_received is used instead")

            def window_received(self, view):
                assert isinstance(view, memoryview) and view.readonly
                take = min(len(view), 50000)         # leave some for the next call
                self.h.update(view[:take])
                self.n += take
                self.views += 1
                return take

            def eof_received(self):
                done.set_result((self.n, self.h.hexdigest(), self.views))

        srv, port = await nc.create_server(InPlace)
        reader, writer = await nc.open_connection(port)
        writer.write(payload)
        writer.write_eof()
        n, digest, views = await done
        assert n == len(payload) and digest == hashlib.sha256(payload).hexdigest()
        assert views >= len(payload) // 50000
        writer.close()
        srv.close()
        await srv.wait_closed()
    run(main())


def test_a_virtual_clock_stack_is_refused(vclock, run):
    name = unique("aiov")
    a = netchan.Stack(f"pair:{name}", ip=f"{SERVER_IP}/15", clock=vclock)
    try:
        async def main():
            with pytest.raises(ValueError, match="real clock"):
                await netchan.aio.start_server(lambda r, w: None, a, 80)
        run(main())
    finally:
        a.close()
