"""Unit tests of the chaos checker (expect.py, fedsem.py) on hand-built
snapshots: no clusters. The helpers here build a settled federation that
test_expect_rsp.py and test_snapshot.py reuse."""

import copy
import unittest

import expect
import fedsem

GEN = 3


def kfc(name, ready=True, lbls=None):
    return {"metadata": {"name": name, "namespace": "kube-federation-system",
                         "labels": dict({"fed.io/managed-by": "fed-controller"}, **(lbls or {}))},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def ftc(name, kind, plural, group="", version="v1", namespaced=True):
    return {"metadata": {"name": name}, "spec": {
        "targetType": {"group": group, "version": version, "kind": kind, "pluralName": plural,
                       "scope": "Namespaced" if namespaced else "Cluster"},
        "federatedType": {"group": "types.kubefed.io", "version": "v1beta1",
                          "kind": "Federated" + kind, "pluralName": "federated" + plural},
        "propagation": "Enabled"}}


FTCS = [ftc("namespaces", "Namespace", "namespaces", namespaced=False),
        ftc("configmaps", "ConfigMap", "configmaps"),
        ftc("secrets", "Secret", "secrets"),
        ftc("deployments.apps", "Deployment", "deployments", group="apps")]
TYPES = {t["name"]: t for t in (fedsem.parse_ftc(f) for f in FTCS)}


def fed(ns, name, template, placement, overrides=None, placed=()):
    o = {"metadata": {"name": name, "namespace": ns, "generation": GEN,
                      "finalizers": ["kubefed.io/sync-controller"]},
         "spec": {"template": template, "placement": placement}}
    if overrides is not None:
        o["spec"]["overrides"] = overrides
    o["status"] = {"observedGeneration": GEN,
                   "clusters": [{"name": c, "status": "", "version": "gen:1"} for c in placed],
                   "conditions": [{"type": "Propagation", "status": "True"}]}
    return o


def member_copy(t, f, cluster, extra=None):
    """What a member holds after fed's apply: fed's object plus what the
    apiserver adds."""
    o = fedsem.desired_object(f, TYPES[t], cluster)
    o.pop("kind")
    o.pop("apiVersion")
    o["metadata"].update(uid="u-" + cluster, resourceVersion="17", creationTimestamp="t")
    o["metadata"]["labels"]["kubernetes.io/metadata.name" if t == "namespaces" else "x"] = "y"
    if t == "deployments.apps":
        o["spec"]["strategy"] = {"type": "RollingUpdate"}
        o["spec"]["template"]["spec"]["containers"][0].update(
            imagePullPolicy="Always", terminationMessagePath="/dev/termination-log")
        o["status"] = {"replicas": 0}
    if t == "namespaces":
        o["spec"] = {"finalizers": ["kubernetes"]}
        o["status"] = {"phase": "Active"}
    o.update(extra or {})
    return o


DEPLOY = {"spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                   "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                       "containers": [{"name": "web", "image": "nginx",
                                       "resources": {"limits": {"cpu": "0.5"}}}]}}}}


def world():
    """A settled federation: m1 (region=eu), m2; namespace demo on both."""
    fns = fed("demo", "demo", {}, {"clusterSelector": {}}, placed=["m1", "m2"])
    cm1 = fed("demo", "cm1", {"data": {"k": "v"}}, {"clusters": [{"name": "m1"}, {"name": "m2"}]},
              [{"clusterName": "m2", "clusterOverrides": [{"path": "/data/k", "value": "v2"}]}],
              placed=["m1", "m2"])
    cm2 = fed("demo", "cm2", {"data": {"a": "b"}},
              {"clusterSelector": {"matchLabels": {"region": "eu"}}}, placed=["m1"])
    sec = fed("demo", "s1", {"stringData": {"p": "w"}}, {"clusters": [{"name": "m2"}]},
              placed=["m2"])
    web = fed("demo", "web", DEPLOY, {"clusters": [{"name": "m1"}]}, placed=["m1"])
    members = {}
    for c in ("m1", "m2"):
        objs = {"namespaces": [member_copy("namespaces", fns, c)],
                "configmaps": [member_copy("configmaps", cm1, c),
                               {"metadata": {"name": "kube-root-ca.crt", "namespace": "demo"}}],
                "secrets": [], "deployments.apps": []}
        if c == "m1":
            objs["configmaps"].append(member_copy("configmaps", cm2, c))
            objs["deployments.apps"].append(member_copy("deployments.apps", web, c))
        else:
            objs["secrets"].append(member_copy("secrets", sec, c, {"type": "Opaque"}))
        objs["namespaces"].append({"metadata": {"name": "kube-system"}})
        members[c] = {"reachable": True, "error": None, "objects": objs,
                      "namespaces": objs["namespaces"], "fed_secrets": []}
    return {"host": {"reachable": True, "kubefedclusters": [kfc("m1", lbls={"region": "eu"}),
                                                            kfc("m2")],
                     "ftcs": FTCS, "rsps": [],
                     "federated": {"namespaces": [fns], "configmaps": [cm1, cm2],
                                   "secrets": [sec], "deployments.apps": [web]}},
            "members": members, "orphaned": []}


def objs(snap, c, t):
    return snap["members"][c]["objects"][t]


def find(lst, name):
    return next(o for o in lst if o["metadata"]["name"] == name)


def kinds(res):
    return sorted(((v["kind"], v["object"], v["cluster"]) for v in res["violations"]),
                  key=lambda k: (k[0], k[1], k[2] or ""))


class Settled(unittest.TestCase):
    def test_settled_world_passes(self):
        res = expect.check(world())
        self.assertEqual(res["violations"], [], [expect.format_violation(v)
                                                 for v in res["violations"]])
        self.assertEqual(res["checked"]["members"], ["m1", "m2"])
        self.assertEqual(res["checked"]["objects"], 5)
        self.assertEqual(res["checked"]["copies"], 7)  # 2 ns, 2 cm1, cm2, s1, web

    def test_acceptance_edit_delete_stray(self):
        """Controllers stopped; one copy edited, one deleted, one stray."""
        s = world()
        find(objs(s, "m1", "configmaps"), "cm1")["data"]["k"] = "tampered"
        objs(s, "m1", "configmaps").remove(find(objs(s, "m1", "configmaps"), "cm2"))
        objs(s, "m2", "configmaps").append({"metadata": {
            "name": "stray", "namespace": "demo", "labels": {"kubefed.io/managed": "true"}},
            "data": {"x": "1"}})
        res = expect.check(s)
        self.assertEqual(kinds(res), [("missing", "demo/cm2", "m1"),
                                      ("orphan", "demo/stray", "m2"),
                                      ("stale", "demo/cm1", "m1")])
        stale = next(v for v in res["violations"] if v["kind"] == "stale")
        self.assertEqual(stale["expected"], {"/data/k": "v"})
        self.assertEqual(stale["actual"], {"/data/k": "tampered"})
        text = expect.format_violation(stale)
        self.assertIn("demo/cm1 in m1", text)
        self.assertIn('/data/k: expected "v", actual "tampered"', text)
        missing = next(v for v in res["violations"] if v["kind"] == "missing")
        self.assertEqual(missing["expected"]["data"], {"a": "b"})
        self.assertIsNone(missing["actual"])


class Placement(unittest.TestCase):
    M = {"a": {"region": "eu"}, "b": {"region": "us"}, "c": {}}

    def test_list_wins_even_empty(self):
        self.assertEqual(fedsem.select({"clusters": [], "clusterSelector": {}}, self.M), set())
        self.assertEqual(fedsem.select({"clusters": [{"name": "b"}, {"name": "zz"}],
                                        "clusterSelector": {}}, self.M), {"b"})

    def test_selector(self):
        sel = fedsem.select
        self.assertEqual(sel(None, self.M), set())
        self.assertEqual(sel({"clusterSelector": None}, self.M), set())
        self.assertEqual(sel({"clusterSelector": {}}, self.M), {"a", "b", "c"})
        self.assertEqual(sel({"clusterSelector": {"matchLabels": {"region": "eu"}}}, self.M),
                         {"a"})
        ex = lambda op, *v: {"clusterSelector": {"matchExpressions": [
            dict({"key": "region", "operator": op}, **({"values": list(v)} if v else {}))]}}
        self.assertEqual(sel(ex("NotIn", "eu"), self.M), {"b", "c"})  # absent label matches
        self.assertEqual(sel(ex("In", "eu", "us"), self.M), {"a", "b"})
        self.assertEqual(sel(ex("Exists"), self.M), {"a", "b"})
        self.assertEqual(sel(ex("DoesNotExist"), self.M), {"c"})
        for bad in (ex("In"), ex("Exists", "x"), ex("Near", "x"),
                    {"clusterSelector": {"matchLabels": {"x": 1}}}, {"clusters": "a"}):
            self.assertRaises(ValueError, sel, bad, self.M)

    def test_selector_follows_cluster_labels(self):
        s = world()
        s["host"]["kubefedclusters"][1]["metadata"]["labels"]["region"] = "eu"
        self.assertEqual(kinds(expect.check(s)), [("missing", "demo/cm2", "m2"),
                                                  ("status", "demo/cm2", "m2")])

    def test_bad_placement_is_not_propagated(self):
        s = world()
        cm2 = s["host"]["federated"]["configmaps"][1]
        cm2["spec"]["placement"] = {"clusters": [{"nam": "m1"}]}
        cm2["status"]["conditions"] = [{"type": "Propagation", "status": "False",
                                        "reason": "ComputePlacementFailed"}]
        self.assertEqual(kinds(expect.check(s)), [])  # its copy stays, untouched


class Overrides(unittest.TestCase):
    def test_ops(self):
        doc = {"a": {"b": 1, "x/y": 2, "l": [1, 2]}, "m~": 3}
        out = fedsem.json_patch(doc, [
            {"op": "add", "path": "/a/c", "value": {"d": 1}},
            {"op": "remove", "path": "/a/b"},
            {"path": "/a/x~1y", "value": 5},
            {"op": "add", "path": "/a/l/-", "value": 3},
            {"op": "add", "path": "/a/l/0", "value": 0},
            {"op": "replace", "path": "/m~0", "value": None}])
        self.assertEqual(out, {"a": {"c": {"d": 1}, "x/y": 5, "l": [0, 1, 2, 3]}, "m~": None})
        self.assertEqual(doc["a"]["b"], 1)  # the input is not touched

    def test_failing_ops(self):
        for op in ({"op": "replace", "path": "/nope", "value": 1},
                   {"op": "remove", "path": "/a/l/5"}, {"op": "add", "path": "/a/l/x", "value": 1},
                   {"op": "remove", "path": "/a/l/-"}, {"path": "/q/r", "value": 1}):
            self.assertRaises(ValueError, fedsem.json_patch, {"a": {"l": [1]}}, [op])

    def test_validation(self):
        v = fedsem.validate_overrides
        self.assertIsNone(v(None))
        self.assertIsNone(v([{"clusterName": "a", "clusterOverrides": [
            {"op": "remove", "path": "/x"}, {"path": "/y", "value": None}]}]))
        for bad in ([{"clusterName": "a"}, {"clusterName": "a"}],
                    [{"clusterName": "a", "clusterOverrides": [{"path": "/metadata/name",
                                                                "value": "x"}]}],
                    [{"clusterName": "a", "clusterOverrides": [{"op": "move", "path": "/x"}]}],
                    [{"clusterName": "a", "clusterOverrides": [{"path": "/x"}]}],
                    [{"clusterName": "a", "clusterOverrides": [{"path": "x", "value": 1}]}],
                    [{"clusterName": "a", "clusterOverrides": [{"path": "/x", "value": 1},
                                                               {"path": "/x", "value": 2}]}]):
            self.assertIsNotNone(v(bad), bad)

    def test_override_applied_per_cluster(self):
        s = world()
        find(objs(s, "m2", "configmaps"), "cm1")["data"]["k"] = "v"  # m2's override says v2
        res = expect.check(s)
        self.assertEqual(kinds(res), [("stale", "demo/cm1", "m2")])
        self.assertEqual(res["violations"][0]["expected"], {"/data/k": "v2"})

    def test_override_into_absent_labels_does_not_apply(self):
        # fed adds the managed label after the overrides: an add under
        # /metadata/labels needs labels in the template
        s = world()
        web = s["host"]["federated"]["deployments.apps"][0]
        web["spec"]["overrides"] = [{"clusterName": "m1", "clusterOverrides": [
            {"op": "add", "path": "/metadata/labels/tier", "value": "front"}]}]
        self.assertEqual(kinds(expect.check(s)), [("status", "demo/web", None),
                                                  ("status", "demo/web", "m1")])
        objs(s, "m1", "deployments.apps").clear()
        web["status"]["clusters"][0].update(status="ComputeResourceFailed", message="x")
        web["status"]["conditions"][0].update(status="False", reason="CheckClusters")
        self.assertEqual(kinds(expect.check(s)), [])  # no copy can be made: not missing

    def test_override_that_does_not_apply(self):
        s = world()
        cm1 = s["host"]["federated"]["configmaps"][0]
        cm1["spec"]["overrides"][0]["clusterOverrides"] = [{"op": "remove", "path": "/data/q"}]
        cm1["status"]["clusters"][1]["status"] = "ComputeResourceFailed"
        cm1["status"]["conditions"] = [{"type": "Propagation", "status": "False",
                                        "reason": "CheckClusters"}]
        self.assertEqual(kinds(expect.check(s)), [])


class Compare(unittest.TestCase):
    def test_member_defaults_and_normal_forms(self):
        self.assertEqual(fedsem.diff({"a": {}, "b": [], "c": None, "q": {"x": "0.5"}},
                                     {"z": 1, "q": {"x": "500m"}}), [("/q/x", "0.5", "500m")])
        self.assertEqual(fedsem.diff({"resources": {"cpu": "0.5", "m": "1Gi"}},
                                     {"resources": {"cpu": "500m", "m": "1024Mi"}}), [])
        self.assertEqual(fedsem.diff({"l": [{"a": 1}]}, {"l": [{"a": 1, "b": 2}]}), [])
        self.assertEqual(fedsem.diff({"l": [1]}, {"l": [1, 2]}), [("/l", [1], [1, 2])])
        self.assertEqual(fedsem.diff({"n": 1}, {"n": 1.0}), [])
        self.assertEqual(fedsem.diff({"resources": {"cpu": 0.5}}, {"resources": {"cpu": "500m"}}),
                         [])
        self.assertEqual(len(fedsem.diff({"data": {"x": "0.5"}}, {"data": {"x": "500m"}})), 1)
        self.assertEqual(fedsem.diff({"n": True}, {"n": 1}), [("/n", True, 1)])

    def test_secret_string_data(self):
        s = world()
        self.assertEqual(find(objs(s, "m2", "secrets"), "s1")["data"], {"p": "dw=="})
        find(objs(s, "m2", "secrets"), "s1")["data"]["p"] = "eA=="
        self.assertEqual(kinds(expect.check(s)), [("stale", "demo/s1", "m2")])

    def test_missing_managed_label_is_stale(self):
        s = world()
        del find(objs(s, "m1", "configmaps"), "cm1")["metadata"]["labels"]["kubefed.io/managed"]
        res = expect.check(s)
        self.assertEqual(kinds(res), [("stale", "demo/cm1", "m1")])
        self.assertEqual(res["violations"][0]["expected"],
                         {"/metadata/labels/kubefed.io~1managed": "true"})

    def test_managed_false_is_left_alone(self):
        s = world()
        find(objs(s, "m1", "configmaps"), "cm1")["metadata"]["labels"]["kubefed.io/managed"] = \
            "false"
        find(objs(s, "m1", "configmaps"), "cm1")["data"]["k"] = "theirs"
        self.assertEqual(kinds(expect.check(s)), [("status", "demo/cm1", None),
                                                  ("status", "demo/cm1", "m1")])
        cm1 = s["host"]["federated"]["configmaps"][0]
        cm1["status"]["clusters"][0]["status"] = "ManagedLabelFalse"
        cm1["status"]["conditions"] = [{"type": "Propagation", "status": "False",
                                        "reason": "CheckClusters"}]
        self.assertEqual(kinds(expect.check(s)), [])


class Namespaces(unittest.TestCase):
    def test_no_federated_namespace(self):
        s = world()
        s["host"]["federated"]["configmaps"].append(
            fed("other", "c", {"data": {}}, {"clusterSelector": {}}))
        c = s["host"]["federated"]["configmaps"][-1]
        self.assertEqual(kinds(expect.check(s)), [("status", "other/c", None)])
        c["status"] = {"observedGeneration": GEN, "clusters": [], "conditions": [
            {"type": "Propagation", "status": "False", "reason": "NamespaceNotFederated"}]}
        self.assertEqual(kinds(expect.check(s)), [])
        objs(s, "m1", "configmaps").append(
            {"metadata": {"name": "c", "namespace": "other",
                          "labels": {"kubefed.io/managed": "true"}}})
        s["members"]["m1"]["namespaces"].append({"metadata": {"name": "other"}})
        self.assertEqual(kinds(expect.check(s)), [("orphan", "other/c", "m1")])

    def test_namespace_placement_gates(self):
        s = world()
        fns = s["host"]["federated"]["namespaces"][0]
        fns["spec"]["placement"] = {"clusters": [{"name": "m1"}]}
        fns["status"]["clusters"] = [{"name": "m1", "status": ""}]
        cm1 = s["host"]["federated"]["configmaps"][0]
        cm1["status"]["clusters"] = cm1["status"]["clusters"][:1]
        s["host"]["federated"]["secrets"] = []
        objs(s, "m2", "secrets").clear()
        # m2's namespace and its cm1 copy are now leftovers
        self.assertEqual(kinds(expect.check(s)), [("orphan", "demo/cm1", "m2"),
                                                  ("orphan", "demo/demo", "m2")])

    def test_terminating_namespace_counts_as_gone(self):
        s = world()
        find(s["members"]["m2"]["namespaces"], "demo")["metadata"]["deletionTimestamp"] = "t"
        fns = s["host"]["federated"]["namespaces"][0]
        fns["metadata"]["deletionTimestamp"] = "t"  # deleted; m2 has no namespace controller
        res = expect.check(s)
        self.assertEqual(kinds(res), [("orphan", "demo/demo", "m1")])  # m1's is not going
        self.assertIn("namespace-gone", [n["note"] for n in res["notes"]])
        s["members"]["m1"]["namespaces"].remove(find(s["members"]["m1"]["namespaces"], "demo"))
        for t in ("configmaps", "deployments.apps"):
            objs(s, "m1", t)[:] = [o for o in objs(s, "m1", t)
                                   if o["metadata"].get("namespace") != "demo"]
        self.assertEqual(kinds(expect.check(s)), [])

    def test_reserved_namespace_never_propagated(self):
        s = world()
        s["host"]["federated"]["namespaces"].append(fed("default", "default", {},
                                                        {"clusterSelector": {}}))
        s["host"]["federated"]["namespaces"][-1]["status"] = {
            "observedGeneration": GEN, "conditions": [
                {"type": "Propagation", "status": "False", "reason": "NamespaceNotFederated"}]}
        self.assertEqual(kinds(expect.check(s)), [])


class Orphans(unittest.TestCase):
    def deleted_cm2(self, orphan_ledger):
        s = world()
        s["host"]["federated"]["configmaps"].pop(1)
        if orphan_ledger:
            s["orphaned"] = [{"type": "configmaps", "namespace": "demo", "name": "cm2"}]
        return s

    def test_ledger(self):
        self.assertEqual(kinds(expect.check(self.deleted_cm2(False))),
                         [("orphan", "demo/cm2", "m1")])
        res = expect.check(self.deleted_cm2(True))
        self.assertEqual(kinds(res), [])
        self.assertIn("orphaned-on-purpose", [n["note"] for n in res["notes"]])

    def test_released_copy_is_not_an_orphan(self):
        s = self.deleted_cm2(False)
        del find(objs(s, "m1", "configmaps"), "cm2")["metadata"]["labels"]["kubefed.io/managed"]
        self.assertEqual(kinds(expect.check(s)), [])

    def test_deleting_federated_object(self):
        s = world()
        s["host"]["federated"]["configmaps"][1]["metadata"]["deletionTimestamp"] = "t"
        res = expect.check(s)
        self.assertEqual(kinds(res), [("orphan", "demo/cm2", "m1")])
        self.assertIn("being deleted", res["violations"][0]["detail"])

    def test_copy_being_deleted_is_gone(self):
        s = self.deleted_cm2(False)
        find(objs(s, "m1", "configmaps"), "cm2")["metadata"]["deletionTimestamp"] = "t"
        self.assertEqual(kinds(expect.check(s)), [])


class Members(unittest.TestCase):
    def test_unready_and_unreachable_are_skipped(self):
        s = world()
        s["host"]["kubefedclusters"][1]["status"]["conditions"][0]["status"] = "False"
        objs(s, "m2", "configmaps").clear()
        for o in s["host"]["federated"]["configmaps"][:1] + s["host"]["federated"]["secrets"]:
            o["status"]["conditions"] = [{"type": "Propagation", "status": "False",
                                          "reason": "CheckClusters"}]
        res = expect.check(s)
        self.assertEqual(kinds(res), [])
        self.assertEqual(res["skipped"], [{"cluster": "m2",
                                           "reason": "not Ready (KubeFedCluster)"}])
        s = world()
        s["members"]["m1"] = {"reachable": False, "error": "timed out"}
        res = expect.check(s)
        self.assertEqual(kinds(res), [])
        self.assertEqual(res["checked"]["members"], ["m2"])
        self.assertEqual(res["skipped"][0]["reason"], "not reachable: timed out")

    def test_member_that_left_is_not_checked(self):
        s = world()
        s["members"]["m5"] = copy.deepcopy(s["members"]["m2"])
        res = expect.check(s)
        self.assertEqual(kinds(res), [])
        self.assertEqual(res["skipped"][0]["cluster"], "m5")

    def test_host_unreachable(self):
        res = expect.check({"host": {"reachable": False, "error": "refused"}, "members": {}})
        self.assertEqual([v["kind"] for v in res["violations"]], ["unreachable"])

    def test_duplicates(self):
        s = world()
        tok = {"type": "kubernetes.io/service-account-token", "metadata": {
            "annotations": {"kubernetes.io/service-account.name": "fed-member"}}}
        s["members"]["m1"]["fed_secrets"] = [dict(tok, metadata=dict(tok["metadata"], name=n))
                                             for n in ("t1", "t2")]
        objs(s, "m2", "configmaps").append(copy.deepcopy(find(objs(s, "m2", "configmaps"),
                                                              "cm1")))
        self.assertEqual(kinds(expect.check(s)), [
            ("duplicate", "demo/cm1", "m2"), ("duplicate", "kube-federation-system/fed-member",
                                              "m1")])


class Status(unittest.TestCase):
    def test_not_current(self):
        s = world()
        cm1, cm2 = s["host"]["federated"]["configmaps"]
        cm1["status"]["observedGeneration"] = GEN - 1
        cm2["status"]["clusters"] = []
        s["host"]["federated"]["secrets"][0]["status"]["conditions"][0]["status"] = "False"
        web = s["host"]["federated"]["deployments.apps"][0]
        web["status"]["clusters"].append({"name": "m2", "status": ""})
        web["status"]["clusters"].append({"name": "gone", "status": ""})
        self.assertEqual(kinds(expect.check(s)), [
            ("status", "demo/cm1", None), ("status", "demo/cm2", "m1"),
            ("status", "demo/s1", None), ("status", "demo/web", "gone"),
            ("status", "demo/web", "m2")])

    def test_entry_with_a_failure(self):
        s = world()
        s["host"]["federated"]["configmaps"][0]["status"]["clusters"][0]["status"] = \
            "UpdateFailed"
        res = expect.check(s)
        self.assertEqual(kinds(res), [("status", "demo/cm1", "m1")])
        self.assertEqual(res["violations"][0]["actual"]["status"], "UpdateFailed")

