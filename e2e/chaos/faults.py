"""The fault injector: faults of every kind at random moments, alone and
overlapping, each healed after a random while (or by the supervisor's
restart, for killed processes). Faults on one target never overlap (a
frozen apiserver is not also stopped), faults on different targets do.
Every random draw comes from the injector's own rng, before any I/O, so a
seed replays the same schedule."""

import json
import re
import signal
import threading
import time
import urllib.request

from topology import run

KINDS = [
    # kind, weight
    ("controller_kill_leader", 3), ("controller_term_leader", 2),
    ("controller_kill_standby", 1), ("controller_term_standby", 1),
    ("member_stop", 2), ("member_freeze", 2), ("member_restart", 2),
    ("host_restart", 1), ("etcd_compact", 1),
    ("agent_kill", 2), ("link_cut", 2), ("proxy_kill", 1),
    ("link_slow", 2), ("link_throttle", 1), ("link_stall", 2), ("link_reset", 1),
]


class Injector:
    def __init__(self, topo, rng, record, mean_gap=6.0):
        self.t, self.rng, self.record = topo, rng, record
        self.mean_gap = mean_gap
        self.busy = set()
        self.lock = threading.Lock()
        self.active = []  # (thread, heal) of faults still in force
        self.history = []
        self.stop_ev = threading.Event()
        self.counts = {}
        self.last_fault_end = 0.0

    # ---- the schedule --------------------------------------------------
    def run_for(self, seconds):
        """Inject until `seconds` pass, then heal everything still in force."""
        end = time.time() + seconds
        while True:
            gap = self.rng.expovariate(1.0 / self.mean_gap)
            kind = self.rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
            dur = self.rng.uniform(2.0, 15.0)
            pick = self.rng.random()
            if time.time() + gap >= end:
                time.sleep(max(0.0, end - time.time()))
                break
            time.sleep(gap)
            self.inject(kind, dur, pick)
        self.heal_all()

    def inject(self, kind, dur, pick):
        target = self.target(kind, pick)
        with self.lock:
            if target is None or target in self.busy:
                self.record({"t": time.time(), "event": "fault-skipped", "kind": kind, "target": target})
                return
            self.busy.add(target)
        ev = {"t": time.time(), "event": "fault", "kind": kind, "target": target, "duration": round(dur, 2)}
        try:
            heal = getattr(self, "f_" + kind)(target, dur, ev)
        except Exception as e:  # a fault that could not be made is logged, not fatal
            ev["error"] = str(e)[:300]
            heal = None
        self.record(ev)
        self.history.append(ev)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if heal is None:
            self.release(target)
            return
        entry = {"target": target, "heal": heal, "kind": kind, "done": False}
        h = threading.Timer(dur, self.healer, (entry,))
        h.daemon = True
        entry["timer"] = h
        self.active.append(entry)
        h.start()

    def healer(self, entry):
        target, heal, kind = entry["target"], entry["heal"], entry["kind"]
        if entry["done"]:
            return
        entry["done"] = True
        try:
            heal()
        except Exception as e:
            self.record({"t": time.time(), "event": "heal-error", "kind": kind, "target": target,
                         "error": str(e)[:300]})
        self.record({"t": time.time(), "event": "healed", "kind": kind, "target": target})
        self.release(target)

    def release(self, target):
        with self.lock:
            self.busy.discard(target)
            self.last_fault_end = time.time()

    def heal_all(self):
        """Heal what is still in force, each fault once: a timer that has
        not fired is cancelled and its heal runs now; one that is healing
        is waited for."""
        for e in self.active:
            e["timer"].cancel()
        for e in self.active:
            if e["timer"].is_alive():
                e["timer"].join()
        for e in self.active:
            self.healer(e)
        self.active = []
        self.last_fault_end = time.time()

    # ---- targets -------------------------------------------------------
    def target(self, kind, pick):
        t = self.t
        if kind.startswith("controller_"):
            return "controller:" + ("leader" if "leader" in kind else "standby")
        if kind in ("member_stop", "member_freeze", "member_restart"):
            ms = t.direct + t.agent_members
            return "apiserver:" + ms[int(pick * len(ms))]
        if kind == "host_restart":
            return "apiserver:host"
        if kind == "etcd_compact":
            return "etcd"
        if kind == "agent_kill":
            return "agent:" + t.agent_members[int(pick * 2)]
        if kind == "link_cut":
            return "link:agent2" if pick < 0.3 else "link:agent1"
        if kind == "proxy_kill":
            return "proxy"
        # relays: the agent1 tunnel path and cw's apiserver path
        return "relay:" + ("member2" if pick < 0.5 else "agent1")

    def controller(self, role):
        """The controller process that leads (or stands by) now, by the
        Lease holder and each one's log of its identity."""
        holder = None
        try:
            holder = self.t.leader()
        except Exception:
            pass
        live = [p for p in self.t.controllers if p.alive()]
        if not live:
            return None
        lead = [p for p in live if holder and identity_of(p) == holder]
        if role == "leader":
            return lead[0] if lead else None
        rest = [p for p in live if p not in lead]
        return rest[0] if rest else None

    # ---- faults: each returns its heal (or None: healed by itself) -----
    def _signal_controller(self, target, ev, sig):
        p = self.controller(target.split(":")[1])
        if p is None:
            raise RuntimeError("no %s controller now" % target)
        ev["proc"], ev["identity"] = p.name, identity_of(p)
        ev["standby_alive"] = any(o.alive() for o in self.t.controllers if o is not p)
        p.signal(sig)
        return None  # the supervisor restarts it after 1-3 s

    def f_controller_kill_leader(self, target, dur, ev):
        return self._signal_controller(target, ev, signal.SIGKILL)

    def f_controller_term_leader(self, target, dur, ev):
        return self._signal_controller(target, ev, signal.SIGTERM)

    f_controller_kill_standby = f_controller_kill_leader
    f_controller_term_standby = f_controller_term_leader

    def _lc(self, cluster, verb):
        run(self.t.lc_argv(cluster, verb), timeout=180)

    def f_member_stop(self, target, dur, ev):
        c = target.split(":")[1]
        self._lc(c, "stop")
        return lambda: self._lc(c, "start")

    def f_member_freeze(self, target, dur, ev):
        c = target.split(":")[1]
        self._lc(c, "freeze")
        return lambda: self._lc(c, "thaw")

    def f_member_restart(self, target, dur, ev):
        self._lc(target.split(":")[1], "restart")
        return None

    f_host_restart = f_member_restart

    def f_etcd_compact(self, target, dur, ev):
        """Compact the fixture's etcd at its current revision, then restart
        one of its apiservers: its watch cache starts again at the present,
        so every watch that resumes from an older resourceVersion gets 410
        Gone and must list again."""
        url = self.t.etcd_url("host")
        rev = int(etcd_post(url, "/v3/kv/range", {"key": "Lw=="})["header"]["revision"])
        etcd_post(url, "/v3/kv/compaction", {"revision": rev, "physical": True})
        victim = ["host", "member1", "member2"][int(dur * 1000) % 3]
        ev["revision"], ev["restarted"] = rev, victim
        self._lc(victim, "restart")
        return None

    def f_agent_kill(self, target, dur, ev):
        self.t.agents[target.split(":")[1]].signal(signal.SIGKILL)
        return None

    def f_link_cut(self, target, dur, ev):
        ns = self.t.netns[target.split(":")[1]]
        ns.link(False)
        return lambda: ns.link(True)

    def f_proxy_kill(self, target, dur, ev):
        self.t.proxy.signal(signal.SIGKILL)
        return None

    def f_link_slow(self, target, dur, ev):
        r = self.t.relays[target.split(":")[1]]
        ev["delay"] = round(0.1 + (dur % 1.0) * 0.9, 2)
        r.set_link(delay=ev["delay"])
        return lambda: r.set_link()

    def f_link_throttle(self, target, dur, ev):
        r = self.t.relays[target.split(":")[1]]
        ev["rate"] = int(2000 + (dur % 1.0) * 30000)
        r.set_link(rate=ev["rate"])
        return lambda: r.set_link()

    def f_link_stall(self, target, dur, ev):
        r = self.t.relays[target.split(":")[1]]
        r.set_link(stall=True)
        return lambda: r.set_link()

    def f_link_reset(self, target, dur, ev):
        self.t.relays[target.split(":")[1]].cut()
        return None


def etcd_post(url, p, body):
    req = urllib.request.Request(url + p, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


_ident_cache = {}


def identity_of(p):
    """The Lease identity a controller process logged at start (fed's
    default identity is random per process)."""
    key = (p.name, p.starts)
    if key in _ident_cache:
        return _ident_cache[key]
    ident = None
    try:
        with open(p.logpath, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        # this start's lines only
        for i in range(len(lines) - 1, -1, -1):
            if lines[i].startswith("==== chaos: start"):
                lines = lines[i:]
                break
        for ln in lines:
            m = IDENT_RE.search(ln)
            if m:
                ident = m.group(1)
                break
    except OSError:
        pass
    if ident:
        _ident_cache[key] = ident
    return ident


IDENT_RE = re.compile(r"lease \S+: (\S+) is campaigning")
