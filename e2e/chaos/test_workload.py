"""Unit tests of the chaos workload against an in-memory fake of kube.Kube."""

from __future__ import annotations

import base64
import copy
import random
import re
import unittest
from urllib.parse import unquote

import workload
import workload_gen as gen
from workload import OPS, Workload

MEMBERS = ("agent1", "agent2", "cw", "member1", "member2")
FIFTH = "member2"
KFC = "/apis/core.kubefed.io/v1beta1/namespaces/kube-federation-system/kubefedclusters"


class Down(Exception):
    """What kube.KubeError stands for here: no HTTP answer."""


class FakeKube:
    """Objects by path; POST/GET/PUT/PATCH(merge, json add)/DELETE and lists by
    label selector. `fail(method, path)` may return a status or raise first."""

    def __init__(self, name: str, fail=None):
        self.name, self.fail, self.calls, self.store, self.rv = name, fail, [], {}, 0

    def request(self, method, path, body=None, content_type="application/json", timeout=None):
        self.calls.append((method, path, copy.deepcopy(body), content_type, timeout))
        if self.fail:
            code = self.fail(method, path)
            if code is not None:
                return code, {"message": "injected"}
        base, _, query = path.partition("?")
        if method == "POST":
            obj = copy.deepcopy(body)
            key = f"{base}/{obj['metadata']['name']}"
            if key in self.store:
                return 409, {"message": "exists"}
            return 201, self._put(key, obj)
        if method == "GET" and base in self.store:
            return 200, copy.deepcopy(self.store[base])
        if method == "GET":
            return self._list(base, query)
        if base not in self.store:
            return 404, {"message": "not found"}
        if method == "DELETE":
            return 200, self.store.pop(base)
        if method == "PUT":
            if body["metadata"].get("resourceVersion") != self.store[base]["metadata"]["resourceVersion"]:
                return 409, {"message": "conflict"}
            return 200, self._put(base, copy.deepcopy(body))
        obj = copy.deepcopy(self.store[base])
        if content_type == "application/merge-patch+json":
            merge(obj, body)
        else:
            for p in body:
                assert p["op"] == "add", p
                *parents, last = p["path"].strip("/").split("/")
                cur = obj
                for k in parents:
                    cur = cur[k]
                cur[last] = copy.deepcopy(p["value"])
        return 200, self._put(base, obj)

    def _put(self, key, obj):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.store[key] = obj
        return copy.deepcopy(obj)

    def _list(self, base, query):
        plural = base.rsplit("/", 1)[1]
        prefix = base[: -len(plural)]
        sel = dict(kv.split("=") for kv in unquote(query.partition("labelSelector=")[2]
                                                 .partition("&")[0]).split(",") if kv)
        items = [copy.deepcopy(o) for k, o in sorted(self.store.items())
                 if re.fullmatch(re.escape(prefix) + r"(namespaces/[^/]+/)?" + plural + "/[^/]+", k)
                 and all((o["metadata"].get("labels") or {}).get(a) == b for a, b in sel.items())]
        return 200, {"items": items}


def merge(dst, patch):
    for k, v in patch.items():
        if v is None:
            dst.pop(k, None)
        elif isinstance(v, dict) and isinstance(dst.get(k), dict):
            merge(dst[k], v)
        else:
            dst[k] = copy.deepcopy(v)


def make(seed=1, host_fail=None, member_fail=None, fedctl_rc=0):
    host = FakeKube("host", host_fail)
    members = {n: FakeKube(n, member_fail) for n in MEMBERS}
    events, fedctl_calls = [], []

    def fedctl(args):
        fedctl_calls.append(args)
        if isinstance(fedctl_rc, Exception):
            raise fedctl_rc
        return fedctl_rc, "out"
    w = Workload(random.Random(seed), host, members, FIFTH, fedctl, events.append,
                 clock=FakeClock(), sleep=lambda s: None)
    return w, host, members, events, fedctl_calls


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        self.t += 0.1
        return self.t


def seed_host(w, host):
    """What setup leaves in the host, without the CRD wait."""
    for ns in gen.STABLE_NAMESPACES:
        w.namespaces[ns] = {"stable": True, "live": True}


def copies(members, n=3):
    """Managed copies in every member, as fed-controller would have made them."""
    for m in members.values():
        for i in range(n):
            for plural, extra in (("configmaps", {"data": {"a": "1"}}), ("namespaces", {})):
                ns = None if plural == "namespaces" else "chaos-s0"
                m.request("POST", gen.kpath("", "v1", plural, ns), {
                    "metadata": {"name": f"c{i}", "labels": {"kubefed.io/managed": "true",
                                                             "chaos-gen": "1"}}, **extra})
        m.calls.clear()


def apply_overrides(obj, ops):
    """RFC 6902 add/remove/replace, failing the way fed-controller would."""
    obj = copy.deepcopy(obj)
    for o in ops:
        *parents, last = o["path"].strip("/").split("/")
        cur = obj
        for k in parents:
            cur = cur[int(k)] if isinstance(cur, list) else cur[k]
        op = o.get("op") or "replace"
        if isinstance(cur, list):
            last = int(last)
        if op in ("remove", "replace") and (last not in cur if isinstance(cur, dict) else last >= len(cur)):
            raise KeyError(o["path"])
        if op == "remove":
            del cur[last]
        else:
            cur[last] = o["value"]
    return obj


class Determinism(unittest.TestCase):
    def stream(self, seed, host_fail=None, member_fail=None):
        w, host, members, events, _ = make(seed)
        seed_host(w, host)
        copies(members)
        host.fail = host_fail
        for m in members.values():
            m.fail = member_fail
        return [w.step() for _ in range(400)], host

    @staticmethod
    def ops(events):
        return [(e["op"], e["type"], e["object"] if not e["op"].startswith("drift") else "",
                 e["cluster"]) for e in events]

    def test_same_seed_same_stream_and_requests(self):
        a, ha = self.stream(7)
        b, hb = self.stream(7)
        self.assertEqual(self.ops(a), self.ops(b))
        self.assertEqual([c[:3] for c in ha.calls], [c[:3] for c in hb.calls])
        c, _ = self.stream(8)
        self.assertNotEqual(self.ops(a), self.ops(c))

    def test_failed_calls_do_not_shift_the_stream(self):
        # answers that leave the bookkeeping as it is (a member down for drift,
        # a 500 on every PUT and merge PATCH) must not change what comes next
        a, _ = self.stream(3)
        b, _ = self.stream(3, member_fail=lambda m, p: (_ for _ in ()).throw(Down("refused")),
                           host_fail=lambda m, p: 500 if m in ("PUT",) else None)
        self.assertEqual(self.ops(a), self.ops(b))
        self.assertTrue(any(not e["ok"] and e["op"] == "update-template" for e in b))


class Mix(unittest.TestCase):
    def test_every_op_appears_and_join_is_rare(self):
        w, host, members, events, fedctl_calls = make(11)
        seed_host(w, host)
        copies(members)
        n = 3000
        for _ in range(n):
            w.step()
        seen = {e["op"] for e in events}
        self.assertEqual(seen, set(OPS), "ops never drawn: %s" % (set(OPS) - seen))
        member_ops = sum(1 for e in events if e["op"] in ("join", "unjoin"))
        self.assertTrue(n / 80 < member_ops < n / 20, member_ops)
        kinds = {e["type"] for e in events if e["op"] == "create"}
        self.assertEqual(kinds, set(gen.KINDS))
        c = w.counts()
        self.assertEqual(c["total"], n)
        self.assertEqual(c["ok"] + c["failed"], n)
        self.assertEqual(sum(v["ok"] + v["failed"] for v in c["ops"].values()), n)
        self.assertGreater(c["ok"], n * 0.8)
        # every request is bounded: the Kube call gets the workload's timeout
        timeouts = {t for k in [host, *members.values()] for *_, t in k.calls}
        self.assertEqual(timeouts, {workload.CALL_TIMEOUT})
        # step() turns any exception into a failed op: none may come from the code
        self.assertEqual([e for e in events if isinstance(e["status"], str)
                          and "Error" in e["status"]], [])

    def test_names_never_reused_and_namespaces_stay_put(self):
        w, host, members, events, _ = make(5)
        seed_host(w, host)
        created, deleted_ns = set(), set()
        for _ in range(2000):
            calls = len(host.calls)
            ev = w.step()
            for method, path, body, ct, _ in host.calls[calls:]:
                if method == "POST" and "/federated" in path:
                    key = (path, body["metadata"]["name"])
                    self.assertNotIn(key, created)
                    created.add(key)
                    self.assertNotIn(body["metadata"]["namespace"], deleted_ns,
                                     "object created in a namespace whose FederatedNamespace went")
                if "federatednamespaces" in path and method == "PATCH" and ct.endswith("json-patch+json"):
                    self.assertEqual([p["path"] for p in body], ["/spec/template"])
                if "federatednamespaces" in path and method == "DELETE":
                    ns = path.rsplit("/", 1)[1]
                    self.assertNotIn(ns, gen.STABLE_NAMESPACES)
            if ev["op"].startswith("ns-delete") and ev["ok"]:
                deleted_ns.add(ev["object"].split("/")[0])
        self.assertTrue(deleted_ns)


class Shapes(unittest.TestCase):
    def setUp(self):
        self.w, self.host, self.members, self.events, self.fedctl = make(21)
        seed_host(self.w, self.host)

    def run_op(self, name):
        calls = len(self.host.calls)
        plan = getattr(self.w, "_plan_" + name)()
        self.assertIsNotNone(plan, name)
        op, ftc, obj, cluster, run = plan
        ok, status, *picked = run()
        ev = self.w._emit(op, ftc, picked[0] if picked else obj, cluster, ok, status)
        return ev, self.host.calls[calls:]

    def test_create_bodies_are_valid(self):
        for _ in range(200):
            ev, calls = self.run_op("create")
            self.assertTrue(ev["ok"], ev)
            (method, path, body, _, timeout), = calls
            self.assertEqual(method, "POST")
            self.assertLessEqual(timeout, workload.CALL_TIMEOUT)
            plural, group, _, tplural, kind = gen.KINDS[ev["type"]]
            ns, name = ev["object"].split("/")
            self.assertEqual(path, f"/apis/types.kubefed.io/v1beta1/namespaces/{ns}/{plural}")
            self.assertEqual(body["kind"], "Federated" + kind)
            self.assertEqual(body["metadata"], {"name": name, "namespace": ns})
            spec = body["spec"]
            plc = spec["placement"]
            self.assertEqual(len(plc), 1)
            if "clusters" in plc:
                names = [c["name"] for c in plc["clusters"]]
                self.assertTrue(set(names) <= set(MEMBERS) | {gen.UNKNOWN_CLUSTER})
            else:
                self.assertIn(plc["clusterSelector"], gen.SELECTORS)
            t = spec["template"]
            self.assertTrue(t["metadata"]["labels"])
            if ev["type"] == "deployments.apps":
                s = t["spec"]
                self.assertIn(s["replicas"], (1, 2, 3))
                self.assertEqual(s["selector"]["matchLabels"], s["template"]["metadata"]["labels"])
                self.assertTrue(s["template"]["spec"]["containers"][0]["image"])
            if ev["type"] == "secrets" and "data" in t:
                for v in t["data"].values():
                    base64.b64decode(v, validate=True)
            seen = set()
            for o in spec.get("overrides", []):
                self.assertNotIn(o["clusterName"], seen)
                seen.add(o["clusterName"])
                self.assertEqual(len({c["path"] for c in o["clusterOverrides"]}),
                                 len(o["clusterOverrides"]))
                apply_overrides(t, o["clusterOverrides"])  # raises if fed would refuse it

    def test_updates(self):
        for _ in range(30):
            self.run_op("create")
        ev, calls = self.run_op("update_template")
        self.assertEqual([c[0] for c in calls], ["GET", "PUT"])
        self.assertEqual(calls[0][1], calls[1][1])
        # the PUT carries the resourceVersion read, so a concurrent write is a 409
        self.assertTrue(calls[1][2]["metadata"]["resourceVersion"])
        self.assertIn("template", calls[1][2]["spec"])
        self.assertTrue(ev["ok"])
        for op, field in (("update_placement", "placement"), ("update_overrides", "overrides")):
            ev, calls = self.run_op(op)
            (method, path, body, ct, _), = calls
            self.assertEqual((method, ct), ("PATCH", "application/json-patch+json"))
            self.assertEqual(body[0]["op"], "add")
            self.assertEqual(body[0]["path"], f"/spec/{field}")

    def test_update_retries_409_within_bounds(self):
        self.run_op("create")
        self.host.fail = lambda m, p: 409 if m == "PUT" else None
        ev, calls = self.run_op("update_template")
        self.assertFalse(ev["ok"])
        self.assertEqual(ev["status"], 409)
        self.assertEqual([c[0] for c in calls], ["GET", "PUT"] * workload.PUT_ATTEMPTS)

    def test_orphan_delete_ledger_first_and_kept(self):
        self.run_op("create")
        key = next(iter(self.w.objects))
        self.host.fail = lambda m, p: (_ for _ in ()).throw(Down("timeout")) if m == "DELETE" else None
        ev, calls = self.run_op("delete_orphan")
        self.assertFalse(ev["ok"])
        self.assertEqual([c[0] for c in calls], ["PATCH", "DELETE"])
        self.assertEqual(calls[0][2], {"metadata": {"annotations": {"kubefed.io/orphan": "true"}}})
        self.assertEqual(calls[0][3], "application/merge-patch+json")
        entry = {"type": key[0], "namespace": key[1], "name": key[2]}
        self.assertEqual(self.w.orphaned, [entry])
        self.assertIn(key, self.w.objects, "a delete without an answer may not have happened")
        self.host.fail = None
        ev, _ = self.run_op("delete")  # annotated already: this delete orphans too
        self.assertTrue(ev["ok"])
        self.assertEqual(self.w.orphaned, [entry])
        self.assertNotIn(key, self.w.objects)
        # no answer to the annotation: it may have been written, so the ledger has it
        self.run_op("create")
        key2 = next(iter(self.w.objects))
        self.host.fail = lambda m, p: (_ for _ in ()).throw(Down("timeout"))
        ev, calls = self.run_op("delete_orphan")
        self.assertEqual([c[0] for c in calls], ["PATCH"])
        self.assertEqual(self.w.orphaned[-1], {"type": key2[0], "namespace": key2[1], "name": key2[2]})

    def test_namespaces(self):
        ev, calls = self.run_op("ns_create")
        ns = ev["object"].split("/")[0]
        self.assertEqual([(c[0], c[1]) for c in calls], [
            ("POST", "/api/v1/namespaces"),
            ("POST", f"/apis/types.kubefed.io/v1beta1/namespaces/{ns}/federatednamespaces")])
        fns = calls[1][2]
        self.assertEqual(fns["kind"], "FederatedNamespace")
        self.assertEqual(fns["metadata"], {"name": ns, "namespace": ns})
        self.assertTrue(set(c["name"] for c in fns["spec"]["placement"]["clusters"]) <= set(MEMBERS))
        self.run_op("ns_delete")
        self.assertFalse(self.w.namespaces[ns]["live"])
        self.assertIsNone(self.w._plan_ns_delete(), "stable namespaces are never deleted")

    def test_rsp(self):
        for _ in range(40):
            self.run_op("create")
        ev, calls = self.run_op("rsp_create")
        (method, path, body, _, _), = calls
        ns, name = ev["object"].split("/")
        self.assertEqual(
            path, f"/apis/scheduling.kubefed.io/v1alpha1/namespaces/{ns}/replicaschedulingpreferences")
        self.assertIn(("deployments.apps", ns, name), self.w.objects)
        self.assertEqual(body["metadata"], {"name": name, "namespace": ns})
        for _ in range(300):
            s = gen.rsp_spec(self.w.rng, list(MEMBERS))
            self.assertEqual(s["targetKind"], "FederatedDeployment")
            self.assertTrue(0 <= s["totalReplicas"] <= 10)
            for c, p in s.get("clusters", {}).items():
                self.assertIn(c, set(MEMBERS) | {"*"})
                self.assertGreaterEqual(p.get("maxReplicas", 99), p.get("minReplicas", 0))
        ev, calls = self.run_op("rsp_update")
        self.assertEqual(calls[0][2][0]["path"], "/spec")
        self.assertTrue(ev["ok"])
        # the RSP owns its target's placement and overrides
        self.assertFalse(self.w._rsp_free(("deployments.apps", ns, name)))
        ev, calls = self.run_op("rsp_delete")
        self.assertEqual(calls[0][0], "DELETE")
        self.assertEqual(self.w.rsps, {})

    def test_fedctl_and_labels(self):
        self.run_op("join")
        self.run_op("unjoin")
        self.assertEqual(self.fedctl, [
            ["join", FIFTH, "--cluster-context", FIFTH, "--wait", "0"],
            ["delete", FIFTH, "--cluster-context", FIFTH, "--orphan", "--wait", "15s"]])
        for n in MEMBERS:
            self.host.request("POST", KFC, {"metadata": {"name": n}})
        ev, calls = self.run_op("label")
        self.assertTrue(ev["ok"], ev)
        (method, path, body, ct, _), = calls
        self.assertEqual(path, f"{KFC}/{ev['cluster']}")
        self.assertEqual(set(body["metadata"]["labels"]), {"region", "tier"})
        self.assertEqual(ct, "application/merge-patch+json")

    def test_drift(self):
        copies(self.members)
        kinds = set()
        for _ in range(200):
            before = {n: len(m.calls) for n, m in self.members.items()}
            ev, _ = self.run_op(random.Random(len(kinds)).choice(["drift_edit", "drift_delete"]))
            calls = self.members[ev["cluster"]].calls[before[ev["cluster"]]:]
            self.assertTrue(all(len(m.calls) == before[n] for n, m in self.members.items()
                                if n != ev["cluster"]))
            self.assertEqual(calls[0][0], "GET")
            self.assertIn("labelSelector=kubefed.io%2Fmanaged%3Dtrue", calls[0][1])
            if ev["type"] not in ("configmaps", "namespaces"):
                self.assertEqual(ev["status"], "no managed copy")
                continue
            kinds.add(ev["type"])
            method, path = calls[1][0], calls[1][1]
            self.assertTrue(path.endswith(ev["object"].split("/")[1]))
            if ev["op"] == "drift-delete":
                self.assertEqual(method, "DELETE")
                self.assertNotEqual(ev["type"], "namespaces")
                # put it back for the next rounds
                m = self.members[ev["cluster"]]
                m.request("POST", path.rsplit("/", 1)[0], {"data": {"a": "1"}, "metadata": {
                    "name": path.rsplit("/", 1)[1], "labels": {"kubefed.io/managed": "true"}}})
            else:
                self.assertEqual(method, "PATCH")
                labels = calls[1][2]["metadata"]["labels"]
                self.assertNotIn("kubefed.io/managed", labels)
                if ev["type"] == "configmaps":
                    self.assertIn("a", calls[1][2]["data"])
        self.assertEqual(kinds, {"configmaps", "namespaces"})


class Survival(unittest.TestCase):
    def test_host_and_members_down(self):
        boom = lambda m, p: (_ for _ in ()).throw(Down("connection refused"))  # noqa: E731
        w, host, members, events, _ = make(9, host_fail=boom, member_fail=boom,
                                           fedctl_rc=RuntimeError("fedctl hung"))
        seed_host(w, host)
        for _ in range(500):
            ev = w.step()
            self.assertFalse(ev["ok"], ev)
            self.assertIsInstance(ev["status"], str)
            self.assertEqual(set(ev), {"t", "op", "type", "object", "cluster", "ok", "status"})
        self.assertGreater(len(w.objects), 0, "creates without an answer may exist: tracked")
        self.assertLessEqual(len(host.calls), 500 * 2 * workload.PUT_ATTEMPTS)

    def test_http_errors_and_a_broken_recorder(self):
        w, host, members, _, _ = make(4, host_fail=lambda m, p: 503, member_fail=lambda m, p: 403,
                                       fedctl_rc=1)
        w.record = lambda ev: 1 / 0
        seed_host(w, host)
        for _ in range(300):
            self.assertFalse(w.step()["ok"])
        self.assertEqual(w.counts()["failed"], 300)


class Setup(unittest.TestCase):
    def established(self, host):
        for name in (gen.WIDGET_TYPE, "federatedwidgets.types.kubefed.io"):
            key = f"{gen.CRD_PATH}/{name}"
            if key not in host.store:
                host.request("POST", gen.CRD_PATH, {"metadata": {"name": name}})
            host.store[key]["status"] = {"conditions": [{"type": "Established", "status": "True"}]}

    def test_setup_is_idempotent(self):
        w, host, members, events, fedctl = make(2)
        self.established(host)
        w.setup()
        w.setup()
        for m in members.values():
            crd = m.store[f"{gen.CRD_PATH}/{gen.WIDGET_TYPE}"]
            self.assertEqual(crd["spec"]["group"], "chaos.fed.io")
            self.assertEqual(crd["spec"]["scope"], "Namespaced")
        self.assertEqual(fedctl, [["enable", gen.WIDGET_TYPE]] * 2)
        w.role_dir = "/tmp/roles"  # agent members' roles are written there, to apply in them
        w.setup()
        self.assertEqual(fedctl[-1], ["enable", gen.WIDGET_TYPE, "--member-role-dir", "/tmp/roles"])
        for ns in gen.STABLE_NAMESPACES:
            self.assertIn(f"/api/v1/namespaces/{ns}", host.store)
            fns = host.store[f"/apis/types.kubefed.io/v1beta1/namespaces/{ns}/federatednamespaces/{ns}"]
            self.assertEqual([c["name"] for c in fns["spec"]["placement"]["clusters"]], sorted(MEMBERS))
            self.assertTrue(w.namespaces[ns]["stable"])

    def test_setup_tolerates_a_member_and_fails_on_the_host(self):
        w, host, members, events, fedctl = make(2)
        self.established(host)
        members["agent1"].fail = lambda m, p: (_ for _ in ()).throw(Down("netns down"))
        w.setup()
        self.assertIn(("setup-crd", "agent1", False), [(e["op"], e["cluster"], e["ok"]) for e in events])
        w2, host2, _, _, _ = make(2)
        with self.assertRaisesRegex(RuntimeError, "not Established"):
            w2.setup()  # nothing marks the CRD Established: the fake clock runs out
        w3, host3, _, _, _ = make(2, fedctl_rc=1)
        self.established(host3)
        with self.assertRaisesRegex(RuntimeError, "fedctl enable"):
            w3.setup()


if __name__ == "__main__":
    unittest.main()
