#!/usr/bin/env python3
"""bench/connect's client: the same requests, on keep-alive HTTPS
connections with the same client certificate, to a member directly and
through the host's aggregator and fed (cluster connect).

  client.py --ca CA --cert CRT --key KEY --target NAME=URL... [--gets N] [--lists N]
            [--parallel P] [--path-get P] [--path-list P]

Prints one JSON object: per target, GET latency (p50, p90, p99, mean, ms)
over --gets sequential requests after a warm-up, and LIST throughput
(lists/s and MB/s) of --lists requests spread over --parallel threads."""
import argparse
import http.client
import json
import ssl
import statistics
import sys
import threading
import time
import urllib.parse


HEADERS = {}  # per connection: extra request headers (the front proxy's, for fed alone)


def conn(url, ctx):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)
    return c, u.path.rstrip("/")


def get(c, path):
    h = {"Accept": "application/json"}
    h.update(HEADERS.get(id(c._context), {}))
    c.request("GET", path, headers=h)
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError("GET %s: %d %s" % (path, r.status, body[:200]))
    return len(body)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def bench_get(url, ctx, path, n):
    c, prefix = conn(url, ctx)
    for _ in range(20):  # warm-up: connections, caches
        get(c, prefix + path)
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        get(c, prefix + path)
        lat.append((time.perf_counter() - t) * 1000)
    c.close()
    return {"n": n, "p50_ms": round(pct(lat, 50), 3), "p90_ms": round(pct(lat, 90), 3),
            "p99_ms": round(pct(lat, 99), 3), "mean_ms": round(statistics.mean(lat), 3)}


def bench_list(url, ctx, path, n, parallel):
    done, size, errors = [0], [0], []
    lock = threading.Lock()

    def worker(k):
        c, prefix = conn(url, ctx)
        try:
            get(c, prefix + path)  # warm-up
            for _ in range(k):
                b = get(c, prefix + path)
                with lock:
                    done[0] += 1
                    size[0] += b
        except Exception as e:  # noqa: BLE001 - reported
            errors.append(str(e))
        finally:
            c.close()

    per = [n // parallel + (1 if i < n % parallel else 0) for i in range(parallel)]
    t = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(k,)) for k in per]
    for x in ts:
        x.start()
    for x in ts:
        x.join()
    s = time.perf_counter() - t
    if errors:
        raise RuntimeError(errors[0])
    return {"n": done[0], "parallel": parallel, "seconds": round(s, 3),
            "lists_per_s": round(done[0] / s, 1), "mb_per_s": round(size[0] / s / 1e6, 2),
            "bytes_per_list": size[0] // max(1, done[0])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ca", required=True, action="append")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--target", action="append", required=True, help="NAME=URL")
    ap.add_argument("--fed-target", action="append", default=[],
                    help="NAME=URL: fed's listener itself, as the host's aggregator calls it "
                         "(--fp-cert/--fp-key, X-Remote-User: --fp-user)")
    ap.add_argument("--fp-cert")
    ap.add_argument("--fp-key")
    ap.add_argument("--fp-ca")
    ap.add_argument("--fp-user", default="bench")
    ap.add_argument("--gets", type=int, default=1000)
    ap.add_argument("--lists", type=int, default=200)
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--path-get", default="/api/v1/namespaces/bench/configmaps/probe")
    ap.add_argument("--path-list", default="/api/v1/namespaces/bench/configmaps")
    a = ap.parse_args()
    ctx = ssl.create_default_context()
    for ca in a.ca:
        ctx.load_verify_locations(ca)
    ctx.load_cert_chain(a.cert, a.key)
    fctx = None
    if a.fed_target:
        fctx = ssl.create_default_context(cafile=a.fp_ca)
        fctx.check_hostname = False  # fed's certificate names its Service, not this address
        fctx.load_cert_chain(a.fp_cert, a.fp_key)
        HEADERS[id(fctx)] = {"X-Remote-User": a.fp_user}
    out = {}
    for t, c in [(t, ctx) for t in a.target] + [(t, fctx) for t in a.fed_target]:
        name, url = t.split("=", 1)
        out[name] = {"get": bench_get(url, c, a.path_get, a.gets),
                     "list": bench_list(url, c, a.path_list, a.lists, a.parallel)}
        print("bench/connect: %s done" % name, file=sys.stderr, flush=True)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
