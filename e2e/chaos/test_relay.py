"""Unit tests of relay.py against local servers on 127.0.0.1 (no clusters).

Bounds are strict below (the relay must add at least what it promises) and
generous above, so a loaded 2-core machine does not fail them.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

import relay as relay_mod
from relay import Relay

SLACK = 10.0  # generous upper bound for anything that should be quick


def _poll(pred, deadline: float = SLACK, what: str = "condition"):
    end = time.monotonic() + deadline
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline}s waiting for {what}")
        time.sleep(0.02)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        part = sock.recv(min(65536, n - len(buf)))
        if not part:
            raise AssertionError(f"EOF after {len(buf)} of {n} bytes")
        buf += part
    return bytes(buf)


def _recv_all(sock: socket.socket) -> bytes:
    buf = bytearray()
    while True:
        part = sock.recv(65536)
        if not part:
            return bytes(buf)
        buf += part


def _closed_by_peer(sock: socket.socket, timeout: float = SLACK) -> bool:
    """True if the peer closed or reset; False if the socket stays silent and open."""
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


class Server:
    """Threaded server on 127.0.0.1 running handler(conn) per connection."""

    def __init__(self, handler) -> None:
        self.handler = handler
        self.lst = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port = self.lst.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.lst.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            self.handler(conn)
        except OSError:
            pass

    def close(self) -> None:
        self.lst.close()
        with self.lock:
            for c in self.conns:
                c.close()


def echo(conn: socket.socket) -> None:
    while True:
        data = conn.recv(65536)
        if not data:
            conn.shutdown(socket.SHUT_WR)
            return
        conn.sendall(data)


class RelayTest(unittest.TestCase):
    def setUp(self) -> None:
        self.servers: list[Server] = []
        self.socks: list[socket.socket] = []

    def tearDown(self) -> None:
        for s in self.socks:
            s.close()
        for s in self.servers:
            s.close()

    def start(self, handler=echo, **link) -> tuple[Relay, Server]:
        srv = Server(handler)
        self.servers.append(srv)
        r = Relay("127.0.0.1", ("127.0.0.1", srv.port), name="test")
        if link:
            r.set_link(**link)
        r.start()
        self.addCleanup(r.stop)
        return r, srv

    def connect(self, r: Relay) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", r.port), timeout=SLACK)
        self.socks.append(s)
        return s

    def roundtrip(self, s: socket.socket, msg: bytes = b"ping") -> None:
        s.sendall(msg)
        self.assertEqual(_recv_exact(s, len(msg)), msg)

    def test_bytes_pass_unchanged_both_ways(self) -> None:
        r, _ = self.start()
        s = self.connect(r)
        data = os.urandom(1 << 20)
        sender = threading.Thread(target=s.sendall, args=(data,))
        sender.start()
        got = _recv_exact(s, len(data))
        sender.join()
        self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(data).hexdigest())
        st = r.stats()
        self.assertEqual((st["bytes_up"], st["bytes_down"]), (len(data), len(data)))
        self.assertEqual((st["connections"], st["open"]), (1, 1))

    def test_delay_adds_to_round_trip_in_order(self) -> None:
        r, _ = self.start(delay=0.2)
        s = self.connect(r)
        t0 = time.monotonic()
        self.roundtrip(s)
        rtt = time.monotonic() - t0
        self.assertGreaterEqual(rtt, 0.4)  # 0.2 s each way
        self.assertLess(rtt, 0.4 + SLACK)
        # Chunks written back to back keep their order under delay.
        for i in range(20):
            s.sendall(b"%03d" % i)
        self.assertEqual(_recv_exact(s, 60), b"".join(b"%03d" % i for i in range(20)))
        r.set_link()  # back to no delay, at once for this connection
        t0 = time.monotonic()
        self.roundtrip(s)
        self.assertLess(time.monotonic() - t0, 0.4 + SLACK)
        self.assertEqual(r.stats()["delay"], 0.0)

    def test_rate_caps_bandwidth(self) -> None:
        got = []

        def sink(conn: socket.socket) -> None:
            got.append(len(_recv_all(conn)))
            conn.sendall(b"done")
            conn.close()

        r, _ = self.start(sink, rate=100_000)
        s = self.connect(r)
        t0 = time.monotonic()
        s.sendall(os.urandom(300_000))
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(_recv_all(s), b"done")
        took = time.monotonic() - t0
        self.assertEqual(got, [300_000])
        self.assertGreaterEqual(took, 2.5)
        self.assertLess(took, 3.0 + 3 * SLACK)
        self.assertEqual(r.stats()["rate"], 100_000)

    def test_stall_keeps_socket_open_and_resume_delivers_in_order(self) -> None:
        received = bytearray()

        def recorder(conn: socket.socket) -> None:
            while data := conn.recv(65536):
                received.extend(data)
                conn.sendall(data)

        r, _ = self.start(recorder)
        s = self.connect(r)
        self.roundtrip(s, b"before")
        r.set_link(stall=True)
        self.assertTrue(r.stats()["stalled"])
        msgs = [b"m%02d," % i for i in range(30)]
        for m in msgs:
            s.sendall(m)
        # A sleep that proves an absence: nothing may arrive while stalled.
        s.settimeout(1.0)
        with self.assertRaises(socket.timeout):  # silent, not closed (b"" would be a close)
            s.recv(1)
        self.assertEqual(bytes(received), b"before")
        # New connections are still accepted while stalled.
        s2 = self.connect(r)
        _poll(lambda: r.stats()["connections"] == 2, what="the second accept")
        s2.sendall(b"second")
        r.set_link(stall=False)
        s.settimeout(SLACK)
        self.assertEqual(_recv_exact(s, len(b"".join(msgs))), b"".join(msgs))
        self.assertEqual(_recv_exact(s2, 6), b"second")
        self.assertEqual(r.stats()["open"], 2)

    def test_stall_holds_bytes_already_queued(self) -> None:
        received = bytearray()

        def recorder(conn: socket.socket) -> None:
            while data := conn.recv(65536):
                received.extend(data)
                conn.sendall(data)

        r, _ = self.start(recorder, delay=0.5)
        s = self.connect(r)
        s.sendall(b"queued")
        _poll(lambda: r.stats()["queued"] == 6, what="the relay to hold the bytes")
        r.set_link(delay=0.5, stall=True)
        # A sleep that proves an absence: the held bytes were due after 0.5 s.
        time.sleep(1.5)
        self.assertEqual(bytes(received), b"")
        r.set_link()
        s.settimeout(SLACK)
        self.assertEqual(_recv_exact(s, 6), b"queued")

    def test_cut_closes_clients_and_accepts_after(self) -> None:
        r, _ = self.start()
        a, b = self.connect(r), self.connect(r)
        self.roundtrip(a)
        self.roundtrip(b)
        r.cut()
        self.assertEqual(r.stats()["open"], 0)
        self.assertTrue(_closed_by_peer(a))
        self.assertTrue(_closed_by_peer(b))
        c = self.connect(r)
        self.roundtrip(c, b"after the cut")
        self.assertEqual(r.stats()["connections"], 3)

    def test_stalled_relay_does_not_buffer_a_fast_writer(self) -> None:
        r, _ = self.start()
        s = self.connect(r)
        self.roundtrip(s)
        r.set_link(stall=True)
        s.settimeout(3.0)
        with self.assertRaises(socket.timeout):  # 20 MiB cannot all be taken
            s.sendall(bytes(20 << 20))
        self.assertLessEqual(r.stats()["queued"], 2 << 20)
        self.assertFalse(_closed_by_peer(s, timeout=0.2))  # still open

    def test_slow_target_gets_backpressure(self) -> None:
        hold = threading.Event()

        def never_reads(conn: socket.socket) -> None:
            hold.wait(SLACK * 3)

        r, _ = self.start(never_reads)
        self.addCleanup(hold.set)
        s = self.connect(r)
        s.settimeout(3.0)
        with self.assertRaises(socket.timeout):
            s.sendall(bytes(64 << 20))
        queued = r.stats()["queued"]
        self.assertGreater(queued, 0)
        self.assertLessEqual(queued, relay_mod.QUEUE_LIMIT + relay_mod.CHUNK)

    def test_half_close_delivers_reply(self) -> None:
        def digest_after_eof(conn: socket.socket) -> None:
            data = _recv_all(conn)  # the client's FIN arrives through the relay
            conn.sendall(hashlib.sha256(data).digest() + data[:1000])
            conn.close()

        r, _ = self.start(digest_after_eof, delay=0.05)
        s = self.connect(r)
        data = os.urandom(200_000)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        reply = _recv_all(s)
        self.assertEqual(reply, hashlib.sha256(data).digest() + data[:1000])
        _poll(lambda: r.stats()["open"] == 0, what="the relay to close both sides")

    def test_target_refusing_closes_client(self) -> None:
        probe = socket.create_server(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
        probe.close()  # nothing listens there now
        r = Relay("127.0.0.1", ("127.0.0.1", dead_port))
        r.start()
        self.addCleanup(r.stop)
        try:
            s = self.connect(r)
        except ConnectionResetError:
            pass  # the relay's RST can beat connect()'s return on loopback: closed, too
        else:
            self.assertTrue(_closed_by_peer(s))
        _poll(lambda: r.stats()["open"] == 0, what="the refused connection to go")
        self.assertEqual(r.stats()["connections"], 1)

    def test_peer_reset_is_survived(self) -> None:
        r, _ = self.start()
        s = self.connect(r)
        self.roundtrip(s)
        s.sendall(bytes(100_000))
        relay_mod._abortive_close(s)
        _poll(lambda: r.stats()["open"] == 0, what="the reset connection to go")
        self.roundtrip(self.connect(r), b"still here")

    def test_many_connections(self) -> None:
        r, _ = self.start(delay=0.01)
        socks = [self.connect(r) for _ in range(300)]
        for i, s in enumerate(socks):
            s.sendall(b"c%04d" % i)
        for i, s in enumerate(socks):
            self.assertEqual(_recv_exact(s, 5), b"c%04d" % i)
        self.assertEqual(r.stats()["open"], 300)
        r.cut()
        self.assertEqual(r.stats()["open"], 0)

    def test_stop_closes_everything_and_port_refuses(self) -> None:
        r, _ = self.start()
        s = self.connect(r)
        self.roundtrip(s)
        r.stop()
        self.assertTrue(_closed_by_peer(s))
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", r.port), timeout=SLACK).close()
        r.stop()  # idempotent

    def test_bad_settings_name_the_field(self) -> None:
        r = Relay("127.0.0.1", ("127.0.0.1", 1))
        with self.assertRaisesRegex(ValueError, "delay"):
            r.set_link(delay=-1)
        with self.assertRaisesRegex(ValueError, "rate"):
            r.set_link(rate=0)
        r.stop()  # never started: nothing to do

    def test_cli_prints_port_and_relays_with_delay(self) -> None:
        srv = Server(echo)
        self.servers.append(srv)
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "relay.py")
        proc = subprocess.Popen([sys.executable, script, "--listen", "127.0.0.1:0", "--target",
                                 f"127.0.0.1:{srv.port}", "--delay", "0.1"],
                                stdout=subprocess.PIPE, text=True)
        self.addCleanup(proc.kill)
        port = int(proc.stdout.readline())
        s = socket.create_connection(("127.0.0.1", port), timeout=SLACK)
        self.socks.append(s)
        t0 = time.monotonic()
        self.roundtrip(s)
        self.assertGreaterEqual(time.monotonic() - t0, 0.2)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=SLACK), 0)
        proc.stdout.close()
        self.assertTrue(_closed_by_peer(s))

    def test_parse_hostport(self) -> None:
        self.assertEqual(relay_mod.parse_hostport("127.0.0.1:6443"), ("127.0.0.1", 6443))
        self.assertEqual(relay_mod.parse_hostport("[::1]:0"), ("::1", 0))
        with self.assertRaisesRegex(ValueError, "HOST:PORT"):
            relay_mod.parse_hostport("6443")


if __name__ == "__main__":
    unittest.main()
