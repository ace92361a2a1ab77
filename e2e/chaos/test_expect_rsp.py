"""Unit tests of the checker's ReplicaSchedulingPreference rules
(expect_rsp.py) on hand-built snapshots."""

import unittest

import expect
from test_expect import DEPLOY, fed, find, kinds, member_copy, objs, world


def rsp_world(total=5, prefs=None, shares=(("m1", 3), ("m2", 2))):
    """world() plus FederatedDeployment demo/api spread by an RSP."""
    s = world()
    api = fed("demo", "api", DEPLOY, {"clusters": [{"name": c} for c, n in shares if n]},
              [{"clusterName": c, "clusterOverrides": [{"path": "/spec/replicas", "value": n}]}
               for c, n in shares if n], placed=[c for c, n in shares if n])
    s["host"]["federated"]["deployments.apps"].append(api)
    for c, n in shares:
        if n:
            objs(s, c, "deployments.apps").append(member_copy("deployments.apps", api, c))
    s["host"]["rsps"].append({
        "metadata": {"name": "api", "namespace": "demo", "generation": 2},
        "spec": {"targetKind": "FederatedDeployment", "totalReplicas": total,
                 "clusters": prefs or {}},
        "status": {"observedGeneration": 2, "unplacedReplicas": 0,
                   "clusters": [{"name": c, "replicas": n, "applied": n, "reason": "w"}
                                for c, n in shares],
                   "conditions": [{"type": "Scheduled", "status": "True",
                                   "reason": "Scheduled", "message": "m1=3 m2=2"}]}})
    return s


class RSP(unittest.TestCase):
    def rsp(self, s):
        return s["host"]["rsps"][0]

    def test_settled(self):
        self.assertEqual(kinds(expect.check(rsp_world())), [])

    def test_member_replicas_are_the_rsps_business(self):
        s = rsp_world()
        find(objs(s, "m2", "deployments.apps"), "api")["spec"]["replicas"] = 7
        res = expect.check(s)
        self.assertEqual(kinds(res), [("rsp", "demo/api", None), ("rsp", "demo/api", "m2")])
        v = next(v for v in res["violations"] if v["cluster"] == "m2")
        self.assertEqual((v["expected"], v["actual"]), (2, 7))

    def test_sums(self):
        s = rsp_world()
        self.rsp(s)["spec"]["totalReplicas"] = 6
        res = expect.check(s)
        self.assertEqual(kinds(res), [("rsp", "demo/api", None), ("rsp", "demo/api", None)])
        s = rsp_world()
        self.rsp(s)["status"]["unplacedReplicas"] = 1
        self.rsp(s)["spec"]["totalReplicas"] = 6
        self.assertEqual(kinds(expect.check(s)), [])  # unplaced is counted

    def test_overflow(self):
        s = rsp_world(total=4, shares=(("m1", 3), ("m2", 2)))
        e = self.rsp(s)["status"]["clusters"][1]
        e.update(replicas=1, overflow=1)  # m2 full: asks 2, holds 1 of the 4
        self.assertEqual(kinds(expect.check(s)), [])

    def test_min_max(self):
        s = rsp_world(prefs={"m1": {"maxReplicas": 2}, "*": {"weight": 1}})
        self.assertEqual(kinds(expect.check(s)), [("rsp", "demo/api", "m1")])
        s = rsp_world(prefs={"m2": {"minReplicas": 3}, "*": {"weight": 1}})
        self.assertEqual(kinds(expect.check(s)), [("rsp", "demo/api", "m2")])
        s = rsp_world(prefs={"m1": {"weight": 1}}, shares=(("m1", 5), ("m2", 0)))
        self.assertEqual(kinds(expect.check(s)), [])  # m2: no entry, no share
        s = rsp_world(prefs={"m1": {"weight": 1}})
        self.assertIn(("rsp", "demo/api", "m2"), kinds(expect.check(s)))
        s = rsp_world()
        s["host"]["rsps"][0]["spec"]["intersectWithClusterSelector"] = True
        s["host"]["federated"]["deployments.apps"][1]["spec"]["placement"]["clusterSelector"] = {
            "matchLabels": {"region": "eu"}}
        self.assertEqual(kinds(expect.check(s)), [("rsp", "demo/api", "m2")])

    def test_target_does_not_ask(self):
        s = rsp_world()
        api = s["host"]["federated"]["deployments.apps"][1]
        api["spec"]["overrides"][0]["clusterOverrides"][0]["value"] = 4
        for o in objs(s, "m1", "deployments.apps"):
            if o["metadata"]["name"] == "api":
                o["spec"]["replicas"] = 4
        self.assertEqual(kinds(expect.check(s)), [
            ("rsp", "demo/api", None), ("rsp", "demo/api", "m1"), ("rsp", "demo/api", "m1")])

    def test_status_not_current(self):
        s = rsp_world()
        self.rsp(s)["status"]["observedGeneration"] = 1
        self.assertEqual(kinds(expect.check(s)), [("rsp", "demo/api", None)])
        s = rsp_world()
        self.rsp(s)["status"]["conditions"][0]["reason"] = "Moving"
        self.assertEqual(kinds(expect.check(s)), [("rsp", "demo/api", None)])
        s = rsp_world()
        self.rsp(s)["status"]["clusters"].pop()
        self.assertIn(("rsp", "demo/api", None), kinds(expect.check(s)))

    def test_moving_held_by_unplaced(self):
        # 2 of 5 cannot be placed: m1's 3 available keep running (applied 3)
        # although the plan gives it 1: fed's availability guard, not drift
        s = rsp_world(total=5, shares=(("m1", 3), ("m2", 2)))
        st = self.rsp(s)["status"]
        st["unplacedReplicas"] = 2
        st["clusters"][0].update(replicas=1, applied=3)
        st["conditions"][0]["reason"] = "Moving"
        self.assertEqual(kinds(expect.check(s)), [])
        find(objs(s, "m1", "deployments.apps"), "api")["spec"]["replicas"] = 1
        self.assertIn(("rsp", "demo/api", "m1"), kinds(expect.check(s)))  # runs less than asked
        st["unplacedReplicas"] = 0
        st["clusters"][0].update(replicas=3)
        self.assertEqual(kinds(expect.check(s))[0], ("rsp", "demo/api", None))  # nothing held it

    def test_unmanaged_copy_is_not_counted(self):
        # a Deployment left in a member by fedctl delete --orphan (no
        # managed label) runs replicas fed no longer owns
        s = rsp_world(total=3, shares=(("m1", 3), ("m2", 0)))
        stray = member_copy("deployments.apps", s["host"]["federated"]["deployments.apps"][1], "m2")
        stray["metadata"]["labels"].pop("kubefed.io/managed", None)
        stray["spec"]["replicas"] = 4
        objs(s, "m2", "deployments.apps").append(stray)
        self.assertNotIn(("rsp", "demo/api", None), kinds(expect.check(s)))

    def test_no_target(self):
        s = world()
        s["host"]["rsps"].append({"metadata": {"name": "x", "namespace": "demo", "generation": 1},
                                  "spec": {"targetKind": "FederatedDeployment",
                                           "totalReplicas": 1},
                                  "status": {"observedGeneration": 1, "conditions": [
                                      {"type": "Scheduled", "status": "False",
                                       "reason": "TargetNotFound"}]}})
        self.assertEqual(kinds(expect.check(s)), [])
        s["host"]["rsps"][0]["spec"]["targetKind"] = "FederatedReplicaSet"
        self.assertEqual(kinds(expect.check(s)), [("rsp", "demo/x", None)])
