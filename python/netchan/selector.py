"""NetchanSelector: a `selectors.BaseSelector` over a netchan Stack.

Register netchan objects (Connection, Listener, UdpSocket) of one stack and,
if you like, ordinary file objects or fds (kernel sockets, pipes); `select()`
drives the stack, and sleeps on the stack's wake-up fd (Stack.fileno) and the
registered fds together until something is ready, a stack timer is due or
the timeout passes. A stack on a virtual clock is driven as Stack.wait drives
it (the clock jumps to the next timer); kernel fds cannot be mixed in then.

    sel = netchan.NetchanSelector(stack)
    sel.register(listener, selectors.EVENT_READ, "accept")
    for key, events in sel.select(timeout=1.0):
        ...
"""
import math
import select
import selectors
import time

from netchan._core import READABLE, WRITABLE, Connection, TcpListener, UdpSocket

_NETCHAN = (Connection, TcpListener, UdpSocket)
IDLE_CHECK = 0.25       # seconds: the longest sleep (the stack's link checks want polls)


def _fd_of(fileobj):
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        fd = int(fileobj.fileno())
    if fd < 0:
        raise ValueError(f"invalid file descriptor: {fd}")
    return fd


class NetchanSelector(selectors.BaseSelector):
    """A selector that reports the readiness of netchan objects (and of
    ordinary fds registered beside them) and drives `stack` meanwhile."""

    def __init__(self, stack):
        self._stack = stack
        self._keys = {}         # fileobj -> SelectorKey
        self._fds = {}          # fd -> SelectorKey (ordinary files only)
        self._poll = select.poll()
        self._stack_fd = None
        self._closed = False

    # ---- registration ---------------------------------------------------------------

    def register(self, fileobj, events, data=None):
        if not events or events & ~(READABLE | WRITABLE):
            raise ValueError(f"Invalid events: {events!r}")
        if fileobj in self._keys:
            raise KeyError(f"{fileobj!r} is already registered")
        if isinstance(fileobj, _NETCHAN):
            self._stack.readiness(fileobj)          # TypeError/OSError for a bad object
            key = selectors.SelectorKey(fileobj, -1, events, data)
        else:
            fd = _fd_of(fileobj)
            if fd in self._fds:
                raise KeyError(f"fd {fd} is already registered")
            if self._stack.clock is not None:
                raise ValueError("a stack on a virtual clock cannot wait on kernel fds")
            key = selectors.SelectorKey(fileobj, fd, events, data)
            self._fds[fd] = key
            self._poll.register(fd, (select.POLLIN if events & READABLE else 0) |
                                (select.POLLOUT if events & WRITABLE else 0))
        self._keys[fileobj] = key
        return key

    def unregister(self, fileobj):
        key = self._keys.pop(fileobj)
        if key.fd >= 0:
            del self._fds[key.fd]
            self._poll.unregister(key.fd)
        return key

    def get_key(self, fileobj):
        try:
            return self._keys[fileobj]
        except KeyError:
            raise KeyError(f"{fileobj!r} is not registered") from None

    def get_map(self):
        return dict(self._keys)

    def close(self):
        self._keys.clear()
        self._fds.clear()
        self._closed = True

    # ---- select ------------------------------------------------------------------

    def _netchan_ready(self):
        out = []
        for key in self._keys.values():
            if key.fd < 0:
                ev = self._stack.readiness(key.fileobj) & key.events
                if ev:
                    out.append((key, ev))
        return out

    def select(self, timeout=None):
        stack = self._stack
        if stack.clock is not None:
            items = [(k.fileobj, k.events) for k in self._keys.values()]
            by_obj = {id(k.fileobj): k for k in self._keys.values()}
            return [(by_obj[id(o)], ev) for o, ev in stack.wait(items, timeout)]
        if self._stack_fd is None:
            self._stack_fd = stack.fileno()
            self._poll.register(self._stack_fd, select.POLLIN)
        end = None if timeout is None else time.monotonic() + max(timeout, 0)
        while True:
            for _ in range(64):
                if not stack.poll(0):
                    break
            ready = self._netchan_ready()
            now = time.monotonic()
            wait = 0 if ready or (end is not None and now >= end) else IDLE_CHECK
            if end is not None:
                wait = min(wait, end - now)
            if wait > 0:
                d = stack.next_deadline
                if d is not None:
                    wait = min(wait, d - stack.now / 1e9)
            if wait > 0 and not stack.arm_wakeup():
                wait = 0
            try:
                polled = self._poll.poll(max(0, math.ceil(wait * 1000)) if wait > 0 else 0)
            finally:
                stack.clear_wakeup()
            for fd, revents in polled:
                key = self._fds.get(fd)
                if key is None:
                    continue
                ev = 0
                if revents & (select.POLLIN | select.POLLHUP | select.POLLERR):
                    ev |= READABLE
                if revents & (select.POLLOUT | select.POLLHUP | select.POLLERR):
                    ev |= WRITABLE
                if ev & key.events:
                    ready.append((key, ev & key.events))
            if ready or (end is not None and time.monotonic() >= end):
                if not ready:
                    return []
                if any(fd == self._stack_fd for fd, _ in polled):
                    stack.poll(0)
                # a kernel fd woke us: the netchan objects get their look too
                seen = {id(k.fileobj) for k, _ in ready}
                ready += [(k, e) for k, e in self._netchan_ready() if id(k.fileobj) not in seen]
                return ready
