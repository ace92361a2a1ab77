#!/usr/bin/env python3
"""Chaos run: a seeded workload and random faults on a real federation,
in rounds; after each round the faults stop, the federation settles, and
the checker compares what every member holds with what the host says it
must hold. Prints the seed, the fault timeline and the verdict; exits 1
on any violation. `--replay REPORT.json` runs a failing seed again.

    e2e/chaos/chaos.py [--seed N] [--rounds N] [--round-seconds S] [--json OUT]

Run by ctest as e2e.test_chaos (the fixture's clusters), or by hand, when
it starts clusters of its own (needs root: network namespaces).
"""

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import expect  # noqa: E402
import faults  # noqa: E402
import snapshot  # noqa: E402
from monitor import Monitor  # noqa: E402
from procs import Supervisor  # noqa: E402
from tamper import tamper_test  # noqa: E402
from topology import Topology  # noqa: E402
from workload import Workload  # noqa: E402


def parse():
    a = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    a.add_argument("--seed", type=int, help="default: today's date (YYYYMMDD), so each run day differs")
    a.add_argument("--rounds", type=int, default=2)
    a.add_argument("--round-seconds", type=float, default=60, help="faults and workload per round")
    a.add_argument("--settle", type=float, default=150, help="longest wait for convergence after a round")
    a.add_argument("--ops-per-second", type=float, default=4)
    a.add_argument("--mean-fault-gap", type=float, default=5, help="mean seconds between faults")
    a.add_argument("--rss-limit-mb", type=float, help="default 200 (600 with --asan)")
    a.add_argument("--json", help="write the report here")
    a.add_argument("--work", help="keep logs and the timeline here (default: a temporary dir)")
    a.add_argument("--replay", help="a report of an earlier run: its seed and parameters")
    a.add_argument("--tamper-test", action="store_true",
                   help="after the last round, show the checker catches an edited, a deleted and a stray copy")
    a.add_argument("--asan", action="store_true", help="the binaries are sanitizer builds (slower)")
    args = a.parse_args()
    if args.replay:
        with open(args.replay) as f:
            p = json.load(f)["params"]
        for k, v in p.items():
            if k not in ("json", "work", "replay"):
                setattr(args, k, v)
    if args.rss_limit_mb is None:
        # ASan's shadow memory and quarantine roughly triple a process's RSS
        args.rss_limit_mb = 600 if args.asan else 200
    if args.seed is None:
        args.seed = int(time.strftime("%Y%m%d"))
    return args


class Run:
    def __init__(self, args):
        self.args = args
        self.root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
        self.work = args.work or tempfile.mkdtemp(prefix="fed-chaos-")
        os.makedirs(self.work, exist_ok=True)
        self.timeline = []
        self.tl_file = open(os.path.join(self.work, "timeline.jsonl"), "a")
        self.lock = threading.Lock()
        self.t0 = time.time()
        # independent streams: the faults do not shift the workload
        self.rng_topo = random.Random(args.seed * 3)
        self.rng_work = random.Random(args.seed * 3 + 1)
        self.rng_fault = random.Random(args.seed * 3 + 2)
        self.violations = []
        self.rounds = []

    def record(self, ev):
        with self.lock:
            self.timeline.append(ev)
            self.tl_file.write(json.dumps(ev) + "\n")
            self.tl_file.flush()
            e = ev.get("event")
            if e in ("fault", "crash", "restart", "healed", "round", "settled", "violation", "leader"):
                rest = {k: v for k, v in ev.items() if k not in ("t", "event")}
                print("%8.1fs %-9s %s" % (ev["t"] - self.t0, e, json.dumps(rest)), flush=True)

    def fail(self, kind, detail, **kw):
        v = {"kind": kind, "detail": detail}
        v.update(kw)
        self.violations.append(v)
        self.record({"t": time.time(), "event": "violation", "kind": kind, "detail": detail})

    def workload_loop(self, wl, stop):
        gap = 1.0 / self.args.ops_per_second
        while not stop.is_set():
            t = time.time()
            try:
                wl.step()
            except Exception as e:  # a bug of the harness, not of fed: loud
                self.record({"t": time.time(), "event": "workload-error", "error": repr(e)[:300]})
            stop.wait(max(0.0, gap - (time.time() - t)))

    def check_once(self, topo, wl):
        snap = snapshot.take_snapshot(topo.host_kube(), topo.members(), list(wl.orphaned))
        res = expect.check(snap)
        # a member the checker had to skip (not Ready, not answering) after
        # the settle is itself a failure to converge
        federated = set(topo.direct + topo.agent_members)
        for s in res.get("skipped") or []:
            c = s.get("cluster") if isinstance(s, dict) else s
            if c in federated:
                res["violations"].append({"kind": "member", "cluster": c, "object": "-", "type": "-",
                                          "expected": "Ready and reachable", "actual": s,
                                          "detail": "member %s was skipped: %s" % (c, s)})
        return snap, res

    def settle(self, topo, wl, inj, rnd):
        end = time.time() + self.args.settle
        while True:
            try:
                snap, res = self.check_once(topo, wl)
            except Exception as e:
                res, snap = {"violations": [{"kind": "snapshot", "detail": repr(e)[:300], "object": "-",
                                              "cluster": "-", "type": "-", "expected": None,
                                              "actual": None}]}, None
            if not res["violations"]:
                took = time.time() - inj.last_fault_end
                self.record({"t": time.time(), "event": "settled", "round": rnd, "seconds": round(took, 1),
                             "copies": res.get("checked", {}).get("copies")})
                return took, res, snap
            if time.time() > end:
                if snap is not None:  # for a replay: python3 e2e/chaos/expect.py FILE
                    with open(os.path.join(self.work, "snapshot-round-%s.json" % rnd), "w") as f:
                        json.dump(snap, f)
                return None, res, snap
            time.sleep(3)

    def main(self):
        a = self.args
        print("chaos: seed %d, %d rounds of %gs, %g ops/s, a fault every %gs on average; work dir %s"
              % (a.seed, a.rounds, a.round_seconds, a.ops_per_second, a.mean_fault_gap, self.work), flush=True)
        print("chaos: replay with: e2e/chaos/chaos.py --replay REPORT.json (or the same flags and --seed %d)"
              % a.seed, flush=True)
        bin_dir = os.environ.get("FED_BIN_DIR") or os.path.join(self.root, "build", "bin")
        topo = Topology(self.root, self.work, bin_dir, self.rng_topo, self.record,
                        fixture_state=os.environ.get("FED_E2E_STATE"), asan=a.asan)
        sup = Supervisor(self.record)
        mon = None
        ok = False
        try:
            t = time.time()
            topo.clusters_up()
            topo.fed_up(sup)
            sup.start()
            self.record({"t": time.time(), "event": "round", "round": 0,
                         "setup_seconds": round(time.time() - t, 1)})
            wl = Workload(self.rng_work, topo.host_kube(), topo.members(), topo.fifth, topo.fedctl, self.record,
                          role_dir=os.path.join(self.work, "roles"), ns_members=topo.with_kcm)
            os.makedirs(os.path.join(self.work, "roles"), exist_ok=True)
            wl.setup()
            topo.apply_roles(os.path.join(self.work, "roles"))
            mon = Monitor(topo, self.record)
            mon.start()
            inj = faults.Injector(topo, self.rng_fault, self.record, mean_gap=a.mean_fault_gap)
            for rnd in range(1, a.rounds + 1):
                self.record({"t": time.time(), "event": "round", "round": rnd})
                stop = threading.Event()
                wt = threading.Thread(target=self.workload_loop, args=(wl, stop), daemon=True)
                wt.start()
                nfaults = len(inj.history)
                inj.run_for(a.round_seconds)
                stop.set()
                wt.join()
                if not sup.ensure_all():
                    self.fail("restart", "a supervised process did not start again")
                took, res, snap = self.settle(topo, wl, inj, rnd)
                self.rounds.append({"round": rnd, "faults": len(inj.history) - nfaults,
                                    "settle_seconds": None if took is None else round(took, 1),
                                    "checked": res.get("checked"), "violations": len(res["violations"])})
                if res["violations"]:
                    self.report_violations(res, inj)
                    break
            if not self.violations and a.tamper_test:
                try:
                    tamper_test(self, topo, wl, sup)
                except Exception as e:  # the test could not be made: a failure, with why
                    self.fail("tamper", "the tamper test broke off: %r" % e)
            mon.stop()
            self.judge(topo, sup, mon, inj)
            ok = not self.violations
            self.write_report(topo, wl, inj, mon, sup, ok)
        finally:
            if mon:
                mon.stop()
            topo.down(sup)
        print("chaos: seed %d: %s" % (a.seed, "PASS" if ok else "FAIL (%d violations)" % len(self.violations)),
              flush=True)
        return 0 if ok else 1

    def report_violations(self, res, inj):
        last = inj.history[-5:]
        for v in res["violations"][:50]:
            self.fail(v.get("kind"), v.get("detail", ""), violation=v)
            print(expect.format_violation(v) if v.get("kind") not in ("member", "snapshot") else v["detail"],
                  flush=True)
        print("chaos: the last faults before it:", flush=True)
        for ev in last:
            print("   %8.1fs %s %s" % (ev["t"] - self.t0, ev["kind"], ev["target"]), flush=True)

    def judge(self, topo, sup, mon, inj):
        """Whole-run invariants: no crash, the standby took over in time,
        memory bounded."""
        for c in sup.crashes:
            self.fail("crash", "%s exited on its own (rc %s); last lines:\n%s" % (c["proc"], c["rc"], c["log"]))
        self.failovers = mon.failovers(inj.history, topo)
        for f in self.failovers:
            if f["seconds"] is None:
                if not f.get("excused"):
                    self.fail("failover", "no controller took the Lease after %s" % f["fault"])
            elif f["seconds"] > f["bound"] and not f.get("excused"):
                self.fail("failover", "the Lease passed after %.1fs (bound %.1fs) after %s"
                          % (f["seconds"], f["bound"], f["fault"]))
        for name, mb in mon.rss_max.items():
            if mb > self.args.rss_limit_mb:
                self.fail("rss", "%s RSS %.1f MB over %g MB" % (name, mb, self.args.rss_limit_mb))
        for p in topo.controllers:
            if not p.alive():
                self.fail("alive", "%s is not running at the end" % p.name)

    def write_report(self, topo, wl, inj, mon, sup, ok):
        settles = sorted(r["settle_seconds"] for r in self.rounds if r["settle_seconds"] is not None)
        rep = {
            "seed": self.args.seed,
            "params": {k: v for k, v in vars(self.args).items()},
            "verdict": "pass" if ok else "fail",
            "duration_seconds": round(time.time() - self.t0, 1),
            "faults": dict(sorted(inj.counts.items())),
            "faults_total": len(inj.history),
            "ops": wl.counts(),
            "copies_checked": sum((r.get("checked") or {}).get("copies", 0) or 0 for r in self.rounds),
            "objects_checked": sum((r.get("checked") or {}).get("objects", 0) or 0 for r in self.rounds),
            "rounds": self.rounds,
            "settle_seconds": {"p50": settles[len(settles) // 2] if settles else None,
                               "max": settles[-1] if settles else None},
            "controller_rss_max_mb": {k: round(v, 1) for k, v in mon.rss_max.items()},
            "failovers": self.failovers,
            "crashes": [{k: v for k, v in c.items() if k != "log"} for c in sup.crashes],
            "lease_lost_exits": sup.planned_exits,
            "violations": self.violations,
        }
        print("chaos: " + json.dumps({k: rep[k] for k in ("faults", "faults_total", "ops", "copies_checked",
                                                          "settle_seconds", "controller_rss_max_mb")}), flush=True)
        print("chaos: failovers: " + json.dumps([(f["fault"], f["seconds"]) for f in self.failovers]), flush=True)
        for p in [self.args.json, os.path.join(self.work, "report.json")]:
            if p:
                with open(p, "w") as f:
                    json.dump(rep, f, indent=1)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(Run(parse()).main())
