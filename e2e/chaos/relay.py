"""Userspace TCP relay that degrades one link: delay, bandwidth cap, stall, cut.

The kernel of the test hosts has no netem qdisc, so the chaos harness puts this
relay in the path of a link it wants to degrade. It only moves bytes, so TLS
passes through untouched. One daemon thread runs a selectors loop; timers are
select timeouts, so an idle or stalled relay sleeps. At most QUEUE_LIMIT bytes
wait per direction, so with a delay d one direction carries at most
QUEUE_LIMIT/d bytes per second (5 MiB/s at 0.2 s), ample for API traffic.
"""

from __future__ import annotations

import argparse
import collections
import errno
import heapq
import itertools
import selectors
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from typing import NamedTuple

QUEUE_LIMIT = 1 << 20  # bytes queued toward one side before the relay stops reading the other
CHUNK = 65536
CONNECT_TIMEOUT = 5.0
ACCEPT_BURST = 64
ACCEPT_PAUSE = 0.1  # after EMFILE/ENFILE, so a full fd table does not spin the loop
CONTROL_TIMEOUT = 5.0  # how long set_link/cut wait for the loop to apply them
_FD_EXHAUSTED = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_WAKE = object()
_LISTEN = object()


class _Link(NamedTuple):
    delay: float
    rate: int | None
    stall: bool


class _Pipe:
    """One direction: chunks read from src wait here until due, then go to dst."""

    def __init__(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        self.src, self.dst, self.up = src, dst, up
        self.chunks: collections.deque[list] = collections.deque()  # [t_read, memoryview | None=EOF]
        self.queued = 0
        self.eof_read = False  # src sent FIN: nothing more to read from it
        self.done = False  # that FIN was passed on with shutdown(SHUT_WR)
        self.blocked = False  # dst's send buffer is full: wait for EVENT_WRITE
        self.tokens = 0.0
        self.refilled: float | None = None  # None: the bucket starts full


class _Conn:
    def __init__(self, client: socket.socket, target: socket.socket, now: float) -> None:
        self.client, self.target = client, target
        self.connecting = True
        self.deadline = now + CONNECT_TIMEOUT
        self.up = _Pipe(client, target, True)
        self.down = _Pipe(target, client, False)
        self.masks = {client: 0, target: 0}
        self.timer: float | None = None
        self.closed = False


class _Abort(Exception):
    """This connection is over: close both sides with RST."""


def _abortive_close(sock: socket.socket) -> None:
    # SO_LINGER 0 makes close() send RST: the peer sees a reset, not an orderly end.
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class Relay:
    def __init__(self, listen_host: str, target: tuple[str, int], listen_port: int = 0,
                 name: str = "relay") -> None:
        self.name = name
        self.port = 0
        self._listen = (listen_host, listen_port)
        self._target = target
        self._lock = threading.Condition()
        self._link = _Link(0.0, None, False)
        self._gen = 0  # control requests made (set_link, cut)
        self._applied = 0  # control requests the loop has applied
        self._cut_gen = 0
        self._stopping = False
        self._ended = False  # the loop has exited and closed everything
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None
        self._sel: selectors.BaseSelector | None = None
        self._wake_r = self._wake_w = None  # socketpair: other threads wake the loop
        self._conns: set[_Conn] = set()
        self._timers: list = []
        self._seq = itertools.count()
        self._accept_paused_until: float | None = None
        # Counters written only by the loop thread; stats() reads them.
        self._accepted = 0
        self._open = 0
        self._bytes = {True: 0, False: 0}
        self._queued = 0
        self._errors = 0

    # ---- public interface -------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        host, port = self._listen
        fam, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                flags=socket.AI_PASSIVE)[0]
        tfam, _, _, _, taddr = socket.getaddrinfo(self._target[0], self._target[1],
                                                  type=socket.SOCK_STREAM)[0]
        self._tfam, self._taddr = tfam, taddr
        lst = socket.socket(fam, socket.SOCK_STREAM)
        try:
            lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lst.bind(addr)
            lst.listen(1024)
            lst.setblocking(False)
        except OSError:
            lst.close()
            raise
        self._listener = lst
        self.port = lst.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        for s in (self._wake_r, self._wake_w):
            s.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        self._sel.register(lst, selectors.EVENT_READ, _LISTEN)
        self._thread = threading.Thread(target=self._run, name=f"relay-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
        thread = self._thread
        if thread is None:
            return
        self._wake()
        if thread is not threading.current_thread():
            thread.join()

    def set_link(self, delay: float = 0.0, rate: int | None = None, stall: bool = False) -> None:
        if not isinstance(delay, (int, float)) or delay < 0:
            raise ValueError(f"relay {self.name}: delay must be seconds >= 0, got {delay!r}")
        if rate is not None and (not isinstance(rate, int) or rate <= 0):
            raise ValueError(f"relay {self.name}: rate must be bytes/second > 0 or None "
                             f"(unlimited), got {rate!r}")
        with self._lock:
            self._link = _Link(float(delay), rate, bool(stall))
            self._gen += 1
            gen = self._gen
        self._wait_applied(gen)

    def cut(self) -> None:
        with self._lock:
            self._gen += 1
            self._cut_gen = gen = self._gen
        self._wait_applied(gen)

    def stats(self) -> dict:
        with self._lock:
            link = self._link
        return {"connections": self._accepted, "open": self._open,
                "bytes_up": self._bytes[True], "bytes_down": self._bytes[False],
                "queued": self._queued, "errors": self._errors,
                "stalled": link.stall, "delay": link.delay, "rate": link.rate}

    # ---- control plumbing -------------------------------------------------

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # a full pipe already holds a wake-up; a closed one means the loop ended

    def _wait_applied(self, gen: int) -> None:
        # Waiting makes "at once" hold for the caller: after return no byte moves
        # under the old settings, and a cut connection is closed.
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        self._wake()
        with self._lock:
            self._lock.wait_for(lambda: self._applied >= gen or self._ended,
                                timeout=CONTROL_TIMEOUT)

    # ---- loop -------------------------------------------------------------

    def _run(self) -> None:
        applied_link = None
        cut_done = 0
        try:
            while True:
                events = self._sel.select(self._timeout())
                now = time.monotonic()
                dirty: set[_Conn] = set()
                for key, mask in events:
                    if key.data is _WAKE:
                        self._drain_wake()
                    elif key.data is _LISTEN:
                        self._accept(now, dirty)
                    else:
                        self._on_event(key.data, key.fileobj, mask, now, dirty)
                with self._lock:
                    link, gen, cut_gen, stopping = (self._link, self._gen, self._cut_gen,
                                                    self._stopping)
                if stopping:
                    break
                if cut_gen > cut_done:
                    for conn in list(self._conns):
                        self._close(conn, abort=True)
                    cut_done = cut_gen
                if link != applied_link:
                    dirty.update(self._conns)
                    applied_link = link
                self._expire_timers(now, dirty)
                for conn in dirty:
                    if not conn.closed:
                        self._service(conn, now, link)
                with self._lock:
                    self._applied = gen
                    self._lock.notify_all()
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        for conn in list(self._conns):
            self._close(conn, abort=True)
        self._sel.close()
        self._listener.close()
        self._wake_r.close()
        with self._lock:
            self._ended = True
            self._wake_w.close()
            self._lock.notify_all()

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _timeout(self) -> float | None:
        now = time.monotonic()
        while self._timers:
            t, _, conn = self._timers[0]
            if conn.closed or conn.timer != t:
                heapq.heappop(self._timers)
                continue
            break
        due = [self._timers[0][0]] if self._timers else []
        if self._accept_paused_until is not None:
            due.append(self._accept_paused_until)
        return max(0.0, min(due) - now) if due else None

    def _expire_timers(self, now: float, dirty: set[_Conn]) -> None:
        while self._timers and self._timers[0][0] <= now:
            t, _, conn = heapq.heappop(self._timers)
            if not conn.closed and conn.timer == t:
                conn.timer = None
                dirty.add(conn)
        if self._accept_paused_until is not None and self._accept_paused_until <= now:
            self._accept_paused_until = None
            self._sel.register(self._listener, selectors.EVENT_READ, _LISTEN)

    def _accept(self, now: float, dirty: set[_Conn]) -> None:
        for _ in range(ACCEPT_BURST):
            client = target = None
            try:
                client, _ = self._listener.accept()
                target = socket.socket(self._tfam, socket.SOCK_STREAM)
            except BlockingIOError:
                return
            except OSError as e:
                if client is not None:
                    _abortive_close(client)
                if e.errno in _FD_EXHAUSTED:
                    self._sel.unregister(self._listener)
                    self._accept_paused_until = now + ACCEPT_PAUSE
                    return
                continue  # e.g. ECONNABORTED: that client is gone, the next may not be
            self._accepted += 1
            try:
                for s in (client, target):
                    s.setblocking(False)
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                err = target.connect_ex(self._taddr)
            except OSError:  # the client may already have reset
                err = errno.ECONNABORTED
            if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
                _abortive_close(client)
                target.close()
                continue
            conn = _Conn(client, target, now)
            self._conns.add(conn)
            self._open += 1
            dirty.add(conn)

    def _on_event(self, conn: _Conn, sock: socket.socket, mask: int, now: float,
                  dirty: set[_Conn]) -> None:
        if conn.closed:
            return
        dirty.add(conn)
        try:
            if conn.connecting:
                if sock is conn.target and mask & selectors.EVENT_WRITE:
                    if conn.target.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        raise _Abort()
                    conn.connecting = False
                return
            if mask & selectors.EVENT_WRITE:
                (conn.up if sock is conn.target else conn.down).blocked = False
            if mask & selectors.EVENT_READ:
                self._read(conn.up if sock is conn.client else conn.down, now)
        except (_Abort, OSError):
            self._close(conn, abort=True)
        except Exception:
            self._bug(conn)

    def _read(self, pipe: _Pipe, now: float) -> None:
        if pipe.eof_read or pipe.queued >= QUEUE_LIMIT or self._link.stall:
            return  # the registration is stale; the next _service fixes it
        try:
            data = pipe.src.recv(CHUNK)
        except BlockingIOError:
            return
        if not data:
            pipe.eof_read = True
            pipe.chunks.append([now, None])
            return
        pipe.chunks.append([now, memoryview(data)])
        pipe.queued += len(data)
        self._queued += len(data)

    def _service(self, conn: _Conn, now: float, link: _Link) -> None:
        try:
            if conn.connecting:
                if now >= conn.deadline:
                    raise _Abort()
                self._set_mask(conn, conn.client, 0)
                self._set_mask(conn, conn.target, selectors.EVENT_WRITE)
                self._schedule(conn, conn.deadline)
                return
            due = [t for t in (self._flush(p, now, link) for p in (conn.up, conn.down))
                   if t is not None]
            if conn.up.done and conn.down.done:
                self._close(conn, abort=False)
                return
            for sock, src, dst in ((conn.client, conn.up, conn.down),
                                   (conn.target, conn.down, conn.up)):
                mask = 0
                if not link.stall and not src.eof_read and src.queued < QUEUE_LIMIT:
                    mask |= selectors.EVENT_READ
                if not link.stall and dst.blocked:
                    mask |= selectors.EVENT_WRITE
                self._set_mask(conn, sock, mask)
            self._schedule(conn, min(due) if due else None)
        except (_Abort, OSError):
            self._close(conn, abort=True)
        except Exception:
            self._bug(conn)

    def _bug(self, conn: _Conn) -> None:
        # A bug must not take every link of the run down with it: drop this
        # connection loudly and keep relaying the others.
        self._errors += 1
        print(f"relay {self.name}: internal error, connection dropped", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        self._close(conn, abort=True)

    def _flush(self, pipe: _Pipe, now: float, link: _Link) -> float | None:
        """Sends what is due and allowed; returns when to try again (None: on an event)."""
        if link.rate is None:
            pipe.refilled = None
        if link.stall:
            return None
        while pipe.chunks and not pipe.blocked:
            head = pipe.chunks[0]
            due = head[0] + link.delay
            if due > now:
                return due
            data = head[1]
            if data is None:
                pipe.dst.shutdown(socket.SHUT_WR)
                pipe.chunks.popleft()
                pipe.done = True
                return None
            n = len(data)
            if link.rate is not None:
                # Burst of 50 ms worth, but at least 4 KiB (or 1 s worth) so a slow
                # link does not cost a wake-up per few bytes.
                cap = float(max(link.rate / 20, min(link.rate, 4096)))
                if pipe.refilled is None:
                    pipe.tokens = cap
                else:
                    pipe.tokens = min(cap, pipe.tokens + (now - pipe.refilled) * link.rate)
                pipe.refilled = now
                need = min(n, int(cap))
                if pipe.tokens < need:
                    return now + (need - pipe.tokens) / link.rate
                n = min(n, int(pipe.tokens))
            try:
                sent = pipe.dst.send(data[:n])
            except BlockingIOError:
                sent = 0
            if link.rate is not None:
                pipe.tokens -= sent
            pipe.queued -= sent
            self._queued -= sent
            self._bytes[pipe.up] += sent
            if sent == len(data):
                pipe.chunks.popleft()
            else:
                head[1] = data[sent:]
            if sent < n:
                pipe.blocked = True
        return None

    def _schedule(self, conn: _Conn, t: float | None) -> None:
        if t == conn.timer:
            return
        conn.timer = t
        if t is not None:
            heapq.heappush(self._timers, (t, next(self._seq), conn))

    def _set_mask(self, conn: _Conn, sock: socket.socket, mask: int) -> None:
        cur = conn.masks[sock]
        if mask == cur:
            return
        if cur == 0:
            self._sel.register(sock, mask, conn)
        elif mask == 0:
            self._sel.unregister(sock)
        else:
            self._sel.modify(sock, mask, conn)
        conn.masks[sock] = mask

    def _close(self, conn: _Conn, abort: bool) -> None:
        if conn.closed:
            return
        conn.closed = True
        for sock in (conn.client, conn.target):
            if conn.masks[sock]:
                self._sel.unregister(sock)
                conn.masks[sock] = 0
            if abort:
                _abortive_close(sock)
            else:
                sock.close()
        self._queued -= conn.up.queued + conn.down.queued
        self._conns.discard(conn)
        self._open -= 1


def parse_hostport(text: str) -> tuple[str, int]:
    """'127.0.0.1:6443' or '[::1]:6443' -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT (e.g. 127.0.0.1:6443), got {text!r}")
    return host.strip("[]"), int(port)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="TCP relay that adds delay and caps bandwidth")
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT to listen on (port 0: any)")
    ap.add_argument("--target", required=True, help="HOST:PORT to relay to")
    ap.add_argument("--delay", type=float, default=0.0, help="seconds added to each direction")
    ap.add_argument("--rate", type=int, default=None, help="bytes/second per direction")
    args = ap.parse_args(argv)
    try:
        host, port = parse_hostport(args.listen)
        target = parse_hostport(args.target)
    except ValueError as e:
        ap.error(str(e))
    relay = Relay(host, target, port)
    relay.set_link(delay=args.delay, rate=args.rate)
    relay.start()
    print(relay.port, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    relay.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
