"""Watches the Lease holder and the controllers' memory through the run,
and measures each failover against the Lease's bounds."""

import threading
import time

from topology import LEASE_TIMES

HOST_FAULTS = ("host_restart", "etcd_compact")


class Monitor:
    def __init__(self, topo, record, period=0.25):
        self.t, self.record, self.period = topo, record, period
        self.samples = []  # (t, holder or None)
        self.rss_max = {}
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self.run, name="monitor", daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_ev.set()
        if self.thread.is_alive():
            self.thread.join()

    def run(self):
        last, n = object(), 0
        while not self.stop_ev.wait(self.period):
            try:
                h = self.t.leader() or None
            except Exception:
                h = "?"  # the host does not answer: unknown, not "none"
            if h != "?":
                self.samples.append((time.time(), h))
                if h != last:
                    self.record({"t": time.time(), "event": "leader", "holder": h})
                    last = h
            n += 1
            if n % 4 == 0:
                for p in self.t.controllers + list(self.t.agents.values()):
                    mb = rss_mb(p.pid) if p.alive() else None
                    if mb is not None:
                        self.rss_max[p.name] = max(self.rss_max.get(p.name, 0.0), mb)

    def failovers(self, history, topo):
        """For each fault that took the leader down: seconds until another
        identity held the Lease, and the bound it had to meet: the Lease's
        duration (SIGKILL: the lease must expire) plus two retry periods, a
        restart's delay and start when no standby was running, and slack."""
        d, _, retry = LEASE_TIMES
        slack = 6.0 if topo.asan else 3.0
        out = []
        for ev in history:
            if not ev["kind"].endswith("_leader") or not ev.get("identity") or ev.get("error"):
                continue
            t0, ident = ev["t"], ev["identity"]
            bound = d + 2 * retry + slack + (0 if ev.get("standby_alive") else 3.0 + slack)
            got = next((t for t, h in self.samples if t > t0 and h and h != ident), None)
            excused = any(o["kind"] in HOST_FAULTS and o.get("restarted", "host") == "host" and o["t"] - 15 <= t0 + bound and o["t"] + o["duration"] >= t0 - 5
                          for o in history if o is not ev)
            out.append({"fault": "%s %s at %.1f" % (ev["kind"], ident, t0), "kind": ev["kind"],
                        "seconds": None if got is None else round(got - t0, 2), "bound": round(bound, 1),
                        "excused": excused})
        return out


def rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith("VmRSS:"):
                    return int(ln.split()[1]) / 1024.0
    except (OSError, ValueError):
        return None
    return None
