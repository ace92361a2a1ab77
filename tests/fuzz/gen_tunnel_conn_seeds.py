#!/usr/bin/env python3
"""Seeds for fuzz_tunnel_conn: valid handshakes followed by frame sequences,
so that the fuzzer starts past authentication. Input layout: see the
comment at the top of fuzz_tunnel_conn.c.

    tests/fuzz/gen_tunnel_conn_seeds.py tests/fuzz/corpora/tunnel_conn
"""
import hashlib
import os
import struct
import sys

HELLO, AUTH, AUTH_OK, OPEN, OPEN_OK, DATA, WINDOW, FIN, RST = range(1, 10)
PING, PONG, METADATA, GOAWAY, CREDENTIAL = range(10, 15)

AGENT, SMALL_QUEUE, SMALL_SOCK, NO_DRAIN = 0x01, 0x02, 0x04, 0x08
STRICT, BRIDGE, BRIDGE_EOF, SHUTDOWN = 0x10, 0x20, 0x40, 0x80

CONSUME, ECHO, CLOSE_DATA, CLOSE_WRITE = 0x01, 0x02, 0x04, 0x08
CLOSE_OTHER, FINB, REFUSE, SCRIPT = 0x10, 0x20, 0x40, 0x80


def fr(t, stream=0, payload=b""):
    return struct.pack(">BBHII", t, 0, 0, stream, len(payload)) + payload


def u32(t, stream, v):
    return fr(t, stream, struct.pack(">I", v))


def hello(version=1):
    return fr(HELLO, 0, struct.pack(">BBHII", 0, version, 0, 65536, 262144))


def seed(mode, step, param, beh, frames, hangup=False):
    return bytes([mode, step << 1 | hangup, param]) + bytes(beh) + b"".join(frames)


# The input plays the agent: HELLO, AUTH; the host opened streams 1, 3, 5, 7.
AGENT_HS = [hello(), fr(AUTH, 0, b"\x01good")]
# The input plays the host: HELLO, AUTH_OK.
HOST_HS = [hello(), fr(AUTH_OK, 0, b"east\0cred-9")]
PINGF = fr(PING, 0, b"12345678")
ALL4 = 0xC0  # the host opens four streams

seeds = {
    "host_basic": seed(0, 0, ALL4, [CONSUME, CONSUME | ECHO, FINB, CLOSE_DATA], AGENT_HS + [
        fr(OPEN_OK, 1), fr(OPEN_OK, 3), fr(OPEN_OK, 5), fr(OPEN_OK, 7),
        fr(DATA, 1, b"hello"), fr(DATA, 3, b"echo me"), u32(WINDOW, 1, 1000),
        u32(WINDOW, 0, 1000), fr(FIN, 5), fr(DATA, 7, b"x"), PINGF,
        fr(PONG, 0, b"abcdefgh"), fr(METADATA, 0, b'{"agentVersion":"v1","nodes":3}'),
        fr(FIN, 1), u32(RST, 3, 1)]),
    "host_bad_auth": seed(0, 3, 0, [0, 0, 0, 0], [hello(), fr(AUTH, 0, b"\x01bad!"), PINGF,
                                                    fr(DATA, 1, b"late")]),
    "host_no_hello": seed(0, 0, 0, [0, 0, 0, 0], [fr(AUTH, 0, b"\x01good"), PINGF]),
    "host_bad_version": seed(0, 0, 0, [0, 0, 0, 0], [hello(2), fr(AUTH, 0, b"\x01good")]),
    "host_unknown_streams": seed(STRICT, 1, 0, [CONSUME] * 4, AGENT_HS + [
        fr(DATA, 9, b"a"), fr(DATA, 11, b"b"), u32(WINDOW, 13, 5), fr(FIN, 15),
        fr(DATA, 17, b"c"), PINGF, PINGF, PINGF]),
    "host_close_other": seed(0, 0, 0x40, [CLOSE_OTHER | CONSUME, CLOSE_WRITE, 0, 0], AGENT_HS + [
        fr(OPEN_OK, 1), fr(OPEN_OK, 3), u32(WINDOW, 0, 70000), fr(DATA, 1, b"zz"),
        u32(WINDOW, 3, 10), fr(DATA, 3, b"late"), u32(RST, 1, 2)]),
    "host_reopen": seed(0, 0, 0x40, [REFUSE | CONSUME, REFUSE | ECHO, 0, 0], AGENT_HS + [
        u32(RST, 1, 3), u32(RST, 3, 3), fr(OPEN_OK, 5), fr(OPEN_OK, 7),
        fr(DATA, 5, b"again"), u32(RST, 7, 1)]),
    "host_script": seed(0, 2, ALL4, [SCRIPT] * 4, AGENT_HS + [
        fr(DATA, 1, b"\x01echo"), fr(DATA, 1, b"\x00"), fr(DATA, 3, b"\x04"),
        fr(DATA, 3, b"\x03"), fr(DATA, 5, b"\x07"), fr(DATA, 9, b"\x00"),
        fr(DATA, 7, b"\x05"), PINGF]),
    "host_script_free": seed(0, 0, 0x40, [SCRIPT, SCRIPT | ECHO, 0, 0], AGENT_HS + [
        fr(DATA, 3, b"\x01x"), fr(DATA, 1, b"\x06"), PINGF]),
    "host_bridge": seed(BRIDGE | BRIDGE_EOF, 0, 0x20, [CONSUME] * 4, AGENT_HS + [
        fr(OPEN_OK, 1), fr(DATA, 1, b"GET / HTTP/1.1\r\n\r\n"), u32(WINDOW, 1, 5000),
        u32(WINDOW, 0, 5000), fr(FIN, 1)]),
    "host_bridge_big": seed(BRIDGE, 0, 0x30, [CONSUME] * 4, AGENT_HS + [
        fr(OPEN_OK, 1), fr(DATA, 1, b"y" * 3000), u32(WINDOW, 1, 300000),
        u32(WINDOW, 0, 300000), u32(RST, 1, 1)]),
    "host_backpressure": seed(SMALL_QUEUE | SMALL_SOCK | NO_DRAIN, 5, 0x42,
                              [ECHO | CONSUME, ECHO, 0, 0],
                              AGENT_HS + [fr(DATA, 1, b"q" * 1000), fr(DATA, 3, b"r" * 1000)] +
                              [PINGF] * 40 + [fr(DATA, 1, b"s" * 1000)]),
    "host_window_overflow": seed(0, 0, 0, [0] * 4, AGENT_HS + [
        u32(WINDOW, 1, 0x7fffffff), u32(WINDOW, 1, 0x7fffffff)]),
    "host_open_from_agent": seed(0, 0, 0, [0] * 4, AGENT_HS + [fr(OPEN, 2, b"\x01")]),
    "host_goaway": seed(SHUTDOWN, 0, 0, [FINB] * 4, AGENT_HS + [
        fr(FIN, 1), u32(GOAWAY, 0, 102) + b"bye"]),
    "host_shutdown": seed(SHUTDOWN, 0, 0x40, [CONSUME] * 4, AGENT_HS + [
        fr(OPEN_OK, 1), fr(DATA, 3, b"late")]),
    "host_credential_from_agent": seed(0, 0, 0, [0] * 4, AGENT_HS + [fr(CREDENTIAL, 0, b"x")]),
    "host_malformed": seed(0, 0, 0, [0] * 4, AGENT_HS + [b"\x06\x01\x00\x00\x00\x00\x00\x01"
                                                         b"\x00\x00\x00\x01z"]),
    "agent_basic": seed(AGENT, 0, 0, [CONSUME | ECHO, FINB, CLOSE_DATA, 0], HOST_HS + [
        fr(OPEN, 1, b"\x01"), fr(DATA, 1, b"GET /api HTTP/1.1\r\n\r\n"), u32(WINDOW, 1, 100),
        fr(OPEN, 3, b"\x01"), fr(FIN, 3), fr(CREDENTIAL, 0, b"cred-10"), PINGF,
        fr(OPEN, 5, b"\x01"), fr(DATA, 5, b"x"), u32(WINDOW, 0, 100), u32(RST, 1, 1)]),
    "agent_refuse": seed(AGENT, 0, 0, [REFUSE, 0, REFUSE, 0], HOST_HS + [
        fr(OPEN, 1, b"\x01"), fr(DATA, 1, b"late"), fr(OPEN, 3, b"\x01"), fr(OPEN, 5, b"\x01"),
        fr(OPEN, 3, b"\x01")]),
    "agent_bridge": seed(AGENT | BRIDGE | BRIDGE_EOF, 0, 0x10, [CONSUME] * 4, HOST_HS + [
        fr(OPEN, 1, b"\x01"), fr(DATA, 1, b"hello bridge"), u32(WINDOW, 1, 1000), fr(FIN, 1)]),
    "agent_bridge_reset": seed(AGENT | BRIDGE, 0, 0x20, [CONSUME] * 4, HOST_HS + [
        fr(OPEN, 1, b"\x01"), fr(DATA, 1, b"abc"), u32(RST, 1, 1), fr(OPEN, 3, b"\x01")]),
    "agent_bad_auth_ok": seed(AGENT, 0, 0, [0] * 4, [hello(), fr(AUTH_OK, 0, b"noterminator")]),
    "agent_goaway_auth": seed(AGENT, 0, 0, [0] * 4, [hello(), u32(GOAWAY, 0, 101)]),
    "agent_script": seed(AGENT, 1, 0, [SCRIPT] * 4, HOST_HS + [
        fr(OPEN, 1, b"\x01"), fr(OPEN, 3, b"\x01"), fr(DATA, 1, b"\x07"), fr(DATA, 3, b"\x03"),
        fr(DATA, 1, b"\x04"), fr(DATA, 1, b"\x01y"), fr(DATA, 1, b"\x05")]),
    "agent_ping_flood": seed(AGENT | STRICT | SMALL_QUEUE, 0, 0x01, [0] * 4,
                             HOST_HS + [PINGF] * 50),
    "host_hangup": seed(BRIDGE, 0, 0x50, [CONSUME | ECHO] * 4, AGENT_HS + [
        fr(OPEN_OK, 1), fr(OPEN_OK, 3), fr(DATA, 1, b"to the bridge"), fr(DATA, 3, b"echo")],
        hangup=True),
    "host_auth_free": seed(0, 0, 0, [0] * 4, [hello(), fr(AUTH, 0, b"\x02free"), PINGF]),
    "host_auth_shut": seed(0, 0, 0x40, [ECHO] * 4, [hello(), fr(AUTH, 0, b"\x02shut"),
                                                   fr(OPEN_OK, 1), fr(DATA, 1, b"x")]),
    # ids nearly used up: the host opens 0x7ffff7fb, 0x7ffff7fd, then renews
    "host_ids_used_up": seed(0, 0, 0x88, [CONSUME | ECHO, REFUSE, 0, 0], AGENT_HS + [
        fr(OPEN_OK, 0x7ffff7fb), fr(DATA, 0x7ffff7fb, b"hi"), u32(RST, 0x7ffff7fd, 1),
        fr(DATA, 0x7ffff7ff, b"?")]),
    "agent_deferred": seed(AGENT, 0, 0, [REFUSE | CLOSE_WRITE | CONSUME] * 4, HOST_HS + [
        fr(OPEN, 1, b"\x01"), fr(DATA, 1, b"early"), u32(WINDOW, 1, 10), PINGF,
        fr(DATA, 1, b"after"), fr(OPEN, 3, b"\x01"), u32(RST, 3, 1), PINGF]),
    "agent_unanswered": seed(AGENT, 0, 0, [REFUSE | FINB] * 4, HOST_HS + [
        fr(OPEN, 1, b"\x01"), fr(DATA, 1, b"x"), fr(FIN, 1), fr(OPEN, 3, b"\x01"),
        u32(RST, 3, 1), u32(WINDOW, 1, 5)]),
    "agent_bridge_http": seed(AGENT | BRIDGE | BRIDGE_EOF, 0, 0x10, [CONSUME] * 4, HOST_HS + [
        fr(OPEN, 1, b"\x01"),
        fr(DATA, 1, b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n"
                    b"Authorization: Bearer evil\r\nImpersonate-User: admin\r\n\r\n"),
        fr(DATA, 1, b"POST /api HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),
        u32(WINDOW, 1, 1000), fr(FIN, 1)], hangup=True),
    "agent_bridge_target_gone": seed(AGENT | BRIDGE | BRIDGE_EOF, 0, 0, [CONSUME] * 4, HOST_HS + [
        fr(OPEN, 1, b"\x01"), fr(DATA, 1, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), PINGF,
        fr(DATA, 1, b"GET /x HTTP/1.1\r\n\r\n"), fr(OPEN, 3, b"\x01")]),
    "host_bridge_target_gone": seed(BRIDGE | BRIDGE_EOF, 0, 0, [CONSUME] * 4, AGENT_HS + [
        fr(OPEN_OK, 1), fr(DATA, 1, b"abc"), PINGF, fr(DATA, 1, b"def")]),
}

out = sys.argv[1] if len(sys.argv) > 1 else "corpora/tunnel_conn"
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    # named by content like the merged corpus files, so reruns add nothing
    with open(os.path.join(out, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)
