"""Unit tests of snapshot.take_snapshot with a fake kube.Kube: what it
lists, that a member that does not answer costs one call, and that no
credential lands in a snapshot."""

import contextlib
import copy
import io
import json
import os
import unittest

import kube
from test_expect import TYPES, kinds, world
import expect
import snapshot


class FakeKube:
    def __init__(self, name, paths, fail=False):
        self.name, self.paths, self.fail, self.calls = name, paths, fail, 0

    def list(self, p):
        self.calls += 1
        if self.fail:
            raise kube.KubeError("GET %s on %s: timed out" % (p, self.name))
        return copy.deepcopy(self.paths.get(p, []))


class Snapshot(unittest.TestCase):
    def test_take(self):
        s = world()
        h = s["host"]
        hp = {"/apis/core.kubefed.io/v1beta1/namespaces/kube-federation-system/kubefedclusters":
              h["kubefedclusters"],
              "/apis/core.kubefed.io/v1beta1/namespaces/kube-federation-system/"
              "federatedtypeconfigs": h["ftcs"]}
        for t in TYPES.values():
            hp["/apis/types.kubefed.io/v1beta1/" + t["fed_plural"]] = h["federated"][t["name"]]
        m1 = s["members"]["m1"]["objects"]
        mp = {"/api/v1/namespaces": m1["namespaces"], "/api/v1/configmaps": m1["configmaps"],
              "/apis/apps/v1/deployments": m1["deployments.apps"],
              "/api/v1/secrets": [{"metadata": {"name": "agent-cred", "namespace": "fed",
                                                "managedFields": [{}]},
                                   "type": "Opaque", "data": {"token": "c2VjcmV0"}}],
              "/api/v1/namespaces/kube-federation-system/secrets": [
                  {"metadata": {"name": "fed-member-token"}, "data": {"token": "eA=="},
                   "type": "kubernetes.io/service-account-token"}]}
        frozen = FakeKube("m2", {}, fail=True)
        snap = snapshot.take_snapshot(FakeKube("host", hp), {"m1": FakeKube("m1", mp),
                                                             "m2": frozen},
                                      [{"type": "configmaps", "namespace": "d", "name": "x"}])
        self.assertEqual(frozen.calls, 1)  # a frozen member costs one timeout
        self.assertEqual(snap["members"]["m2"]["reachable"], False)
        self.assertIn("timed out", snap["members"]["m2"]["error"])
        self.assertNotIn("c2VjcmV0", repr(snap))  # no credential in the file
        self.assertNotIn("eA==", repr(snap))
        self.assertEqual(snap["members"]["m1"]["fed_secrets"][0]["type"],
                         "kubernetes.io/service-account-token")
        res = expect.check(snap)
        self.assertEqual(kinds(res), [], [expect.format_violation(v)
                                          for v in res["violations"]])
        self.assertEqual(res["skipped"][0]["cluster"], "m2")

    def test_host_down(self):
        snap = snapshot.take_snapshot(FakeKube("host", {}, fail=True), {}, [])
        self.assertFalse(snap["host"]["reachable"])
        self.assertEqual(expect.check(snap)["violations"][0]["kind"], "unreachable")


class RealSnapshots(unittest.TestCase):
    """Snapshots taken by take_snapshot from real apiservers (host, member1,
    member2; fed-controller from main), trimmed to namespace chk: what the
    apiserver really returns (defaults, stringData as data, quantities,
    a Service's clusterIP) must not read as drift. The tampered one was
    taken with the controller stopped after editing cfg's data in member1,
    deleting cfg2 in member2 and adding a managed stray ConfigMap there."""

    def load(self, name):
        with open(os.path.join(os.path.dirname(__file__), "testdata", name)) as f:
            return json.load(f)

    def test_settled(self):
        res = expect.check(self.load("real-settled.json"))
        self.assertEqual(kinds(res), [])
        self.assertEqual(res["checked"]["copies"], 11)

    def test_tampered(self):
        res = expect.check(self.load("real-tampered.json"))
        self.assertEqual(kinds(res), [("missing", "chk/cfg2", "member2"),
                                      ("orphan", "chk/stray", "member2"),
                                      ("stale", "chk/cfg", "member1")])
        stale = next(v for v in res["violations"] if v["kind"] == "stale")
        self.assertEqual((stale["expected"], stale["actual"]),
                         ({"/data/a": "1"}, {"/data/a": "tampered"}))

    def test_replay_from_the_command_line(self):
        path = os.path.join(os.path.dirname(__file__), "testdata", "real-tampered.json")
        with contextlib.redirect_stdout(io.StringIO()) as out:
            self.assertEqual(expect.main(["expect.py", path]), 1)
        self.assertIn('/data/a: expected "1", actual "tampered"', out.getvalue())
        self.assertIn("3 violation(s); checked 10 copies of 6 objects", out.getvalue())
