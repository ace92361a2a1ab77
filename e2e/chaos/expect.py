"""The chaos run's invariant checker: from the host's objects in a snapshot
(snapshot.py) it computes what every member must hold and compares.

check(snapshot) is pure. Its rules are fed's (fedsem.py mirrors the C):
- missing: a federated object (not being deleted, spec valid) placed on a
  Ready member (for namespaced types gated by its FederatedNamespace, as
  apis/propagation_plan.c place() does) has no copy there;
- stale: a copy differs from template + retained fields + overrides +
  managed label (a subset: members add defaults, status, metadata);
- orphan: a copy labelled kubefed.io/managed=true whose federated object
  is gone, being deleted or not placed there, unless in the orphan ledger;
- duplicate: one object listed twice, or more than one token Secret of
  fed's member ServiceAccount;
- status: observedGeneration, the Propagation condition and the per-cluster
  entries propagate_status.c writes once converged;
- rsp: expect_rsp.py.
A member namespace being deleted (no namespace controller on some members)
counts as gone: copies in it are neither missing nor orphans (a note says
so). Members not Ready or not reachable are skipped, not judged.
"""

import json

import expect_rsp
from fedsem import (FED_MANAGED_BY, MANAGED, RESERVED_NS, PatchError, cluster_ready,
                    condition, desired_object, fed_key_of_copy, labels, meta, obj_key,
                    parse_ftc, select, stale_diff, target_key, terminating,
                    validate_overrides, violation)

MEMBER_SA = "fed-member"  # what fedctl join creates in each member
BROKEN = ("InvalidName", "ApplyOverridesFailed", "ComputePlacementFailed")


class Ctx:
    """What the rules share, indexed from the snapshot."""

    def __init__(self, snap, res):
        host = snap.get("host") or {}
        self.res = res
        self.kfcs = [k for k in host.get("kubefedclusters") or []
                     if labels(k).get(FED_MANAGED_BY) == "fed-controller"]
        self.members = {meta(k).get("name"): labels(k) for k in self.kfcs}
        self.ready = {meta(k).get("name"): cluster_ready(k) for k in self.kfcs}
        snap_members = snap.get("members") or {}
        self.checked = sorted(n for n in self.members
                              if self.ready[n] and (snap_members.get(n) or {}).get("reachable"))
        for n in sorted(set(self.members) | set(snap_members)):
            m = snap_members.get(n)
            if n not in self.members:
                why = "not in the Federation: its copies are not checked"
            elif not self.ready[n]:
                why = "not Ready (KubeFedCluster)"
            elif m is None:
                why = "not in the snapshot"
            elif not m.get("reachable"):
                why = "not reachable: %s" % (m.get("error") or "?")
            else:
                continue
            res["skipped"].append({"cluster": n, "reason": why})
        res["checked"]["members"] = list(self.checked)
        self.types = {}
        for f in host.get("ftcs") or []:
            t = parse_ftc(f)
            if t:
                self.types[t["name"]] = t
        self.fed = {}  # type name -> {(ns, name): federated object}
        for tn, objs in (host.get("federated") or {}).items():
            if tn in self.types:
                self.fed[tn] = {(meta(o).get("namespace") or "", meta(o).get("name")): o
                                for o in objs}
        self.ns_type = next((t for t in self.types.values() if t["is_namespaces"]), None)
        self.rsps = host.get("rsps") or []
        self.rsp_targets = {(r.get("spec", {}).get("targetKind"), meta(r).get("namespace"),
                             meta(r).get("name")) for r in self.rsps if not terminating(r)}
        self.ledger = {(o.get("type"), o.get("namespace") or "", o.get("name"))
                       for o in snap.get("orphaned") or []}
        self.copies, self.ns = {}, {}  # cluster -> type -> {(ns, name): obj}; cluster -> ns
        for c in self.checked:
            m = snap_members[c]
            self.ns[c] = {meta(o).get("name"): o for o in m.get("namespaces") or []}
            self.copies[c] = {}
            for tn, objs in (m.get("objects") or {}).items():
                if tn not in self.types:
                    continue
                idx = self.copies[c][tn] = {}
                for o in objs:
                    k = (meta(o).get("namespace") or "", meta(o).get("name"))
                    if k in idx:
                        self.add("duplicate", tn, obj_key(*k), c, 1, 2,
                                 "the member lists this object twice")
                    idx[k] = o
        self.placed = {}  # (type, ns, name) -> set of clusters; None: not judged

    def add(self, kind, ftype, obj, cluster, expected, actual, detail):
        self.res["violations"].append(
            violation(kind, ftype, obj, cluster, expected, actual, detail))

    def note(self, what, ftype, obj, cluster, detail):
        self.res["notes"].append({"note": what, "type": ftype, "object": obj,
                                  "cluster": cluster, "detail": detail})

    def namespace_gone(self, c, ns):
        o = self.ns.get(c, {}).get(ns)
        return o is None or terminating(o)


def plan(ctx, t, fed):
    """(condition reason or "", placed clusters) as fed_prop_plan judges."""
    ns, name = meta(fed).get("namespace"), meta(fed).get("name")
    spec = fed.get("spec") or {}
    if t["namespaced"] and not t["is_namespaces"] and ns in RESERVED_NS:
        return "NamespaceNotFederated", set()
    if t["is_namespaces"] and name in RESERVED_NS:
        return "NamespaceNotFederated", set()
    if t["is_namespaces"] and name != ns:
        return "InvalidName", set()
    if validate_overrides(spec.get("overrides")):
        return "ApplyOverridesFailed", set()
    try:
        placed = select(spec.get("placement"), ctx.members)
    except ValueError:
        return "ComputePlacementFailed", set()
    if t["namespaced"] and not t["is_namespaces"]:
        fns = ctx.fed.get(ctx.ns_type["name"], {}).get((ns, ns)) if ctx.ns_type else None
        if fns is None:
            return "NamespaceNotFederated", set()
        try:  # a bad FederatedNamespace placement places nothing here
            placed &= select((fns.get("spec") or {}).get("placement"), ctx.members)
        except ValueError:
            placed = set()
    return "", placed


def check_copy(ctx, t, fed, c, under_rsp):
    """One placed member: the copy. Returns the status entry fed should
    show for it ("" OK), or None when it cannot be known (excused)."""
    key = obj_key(meta(fed).get("namespace"), meta(fed).get("name"))
    tns, tname = target_key(t, fed)
    if t["namespaced"] and ctx.namespace_gone(c, tns):
        ctx.note("namespace-gone", t["name"], key, c,
                 "namespace %s is absent or being deleted in the member: no copy expected"
                 % tns)
        return None
    cp = ctx.copies[c].get(t["name"], {}).get((tns or "", tname))
    if cp is not None and terminating(cp):
        ctx.note("copy-terminating", t["name"], key, c, "the copy is being deleted")
        return None
    if cp is not None and labels(cp).get(MANAGED) == "false":
        ctx.note("managed-false", t["name"], key, c, "labelled kubefed.io/managed=false")
        return "ManagedLabelFalse"
    try:
        desired = desired_object(fed, t, c, cp)
    except PatchError as e:
        # fed cannot build it either: it writes nothing, an old copy stays
        ctx.note("overrides-fail", t["name"], key, c, str(e))
        return "ComputeResourceFailed"
    except ValueError as e:
        ctx.note("overrides-fail", t["name"], key, c, str(e))
        return "ApplyOverridesFailed"
    if cp is None:
        ctx.add("missing", t["name"], key, c, desired, None, "no copy in the member")
        return ""
    ctx.res["checked"]["copies"] += 1
    d = stale_diff(desired, cp, ["spec.replicas"] if under_rsp else [])
    if d:
        ctx.add("stale", t["name"], key, c, {x["path"]: x["expected"] for x in d},
                {x["path"]: x["actual"] for x in d},
                "%d field(s) differ from template + overrides: %s"
                % (len(d), ", ".join(x["path"] for x in d)))
    return ""


def check_status(ctx, t, fed, cond, placed, entries_want):
    key = obj_key(meta(fed).get("namespace"), meta(fed).get("name"))
    st = fed.get("status") or {}
    gen = meta(fed).get("generation")
    if gen is not None and st.get("observedGeneration") != gen:
        ctx.add("status", t["name"], key, None, {"observedGeneration": gen},
                {"observedGeneration": st.get("observedGeneration")},
                "status.observedGeneration is not the object's generation")
    pc = condition(fed, "Propagation")
    have = {"status": (pc or {}).get("status"), "reason": (pc or {}).get("reason")}
    if cond:
        if have != {"status": "False", "reason": cond}:
            ctx.add("status", t["name"], key, None, {"status": "False", "reason": cond},
                    have, "the Propagation condition should say %s" % cond)
        return
    entries = {}
    for e in st.get("clusters") or []:
        if isinstance(e, dict):
            entries[e.get("name")] = e
    for c in ctx.checked:
        e = entries.get(c)
        if c in placed and e is None:
            ctx.add("status", t["name"], key, c, {"name": c, "status": entries_want.get(c)},
                    None, "no status.clusters entry for a member it is placed on")
        elif c in placed and entries_want.get(c) is not None and \
                e.get("status", "") != entries_want[c]:
            ctx.add("status", t["name"], key, c, {"status": entries_want[c]},
                    {"status": e.get("status"), "message": e.get("message")},
                    "the member's status.clusters entry is not current")
        elif c not in placed and e is not None:
            ctx.add("status", t["name"], key, c, None, e,
                    "a status.clusters entry for a member it is not placed on")
    for n in entries:
        if n not in ctx.members:
            ctx.add("status", t["name"], key, n, None, entries[n],
                    "a status.clusters entry for a cluster not in the Federation")
    want = [entries_want.get(c) for c in placed]
    if all(c in ctx.checked for c in placed) and all(w == "" for w in want):
        exp = {"status": "True", "reason": None}
    elif any(w for w in want):
        exp = {"status": "False", "reason": "CheckClusters"}
    else:
        return  # depends on members not judged
    if have != exp:
        ctx.add("status", t["name"], key, None, exp, have,
                "the Propagation condition is not current")


def check_object(ctx, t, fed):
    ns, name = meta(fed).get("namespace") or "", meta(fed).get("name")
    ctx.res["checked"]["objects"] += 1
    if terminating(fed):
        ctx.placed[(t["name"], ns, name)] = set()
        return  # fed writes no status while deleting; its copies go (orphan rule)
    cond, placed = plan(ctx, t, fed)
    if cond in BROKEN:
        # fed changes nothing in members for a spec it cannot propagate
        ctx.placed[(t["name"], ns, name)] = None
        check_status(ctx, t, fed, cond, set(), {})
        return
    ctx.placed[(t["name"], ns, name)] = placed
    under_rsp = (t["fed_kind"], meta(fed).get("namespace"), name) in ctx.rsp_targets
    entries_want = {}
    for c in ctx.checked:
        if c in placed:
            entries_want[c] = check_copy(ctx, t, fed, c, under_rsp)
    check_status(ctx, t, fed, cond, placed, entries_want)


def check_strays(ctx):
    """Managed copies nothing should hold any more."""
    for c in ctx.checked:
        for tn, idx in ctx.copies[c].items():
            t = ctx.types[tn]
            for cp in idx.values():
                if labels(cp).get(MANAGED) != "true" or terminating(cp):
                    continue
                fns, fname = fed_key_of_copy(t, cp)
                k = (tn, fns or "", fname)
                key = obj_key(fns, fname)
                if t["namespaced"] and ctx.namespace_gone(c, meta(cp).get("namespace")):
                    continue  # its namespace is going: gone with it
                if k in ctx.placed and (ctx.placed[k] is None or c in ctx.placed[k]):
                    continue
                if k in ctx.ledger:
                    ctx.note("orphaned-on-purpose", tn, key, c,
                             "deleted with kubefed.io/orphan: may remain")
                    continue
                fed = ctx.fed.get(tn, {}).get(k[1:])
                why = ("its federated object does not exist" if fed is None else
                       "its federated object is being deleted" if terminating(fed) else
                       "its federated object is not placed on this member")
                ctx.add("orphan", tn, key, c, None,
                        {"labels": labels(cp),
                         "resourceVersion": meta(cp).get("resourceVersion")},
                        "a managed copy remains: " + why)


def check_fed_objects(ctx, snap):
    """fed's own per-member objects that must be unique."""
    names = [meta(k).get("name") for k in ctx.kfcs]
    for n in sorted({n for n in names if names.count(n) > 1}):
        ctx.add("duplicate", "kubefedclusters", obj_key("kube-federation-system", n), None, 1,
                names.count(n), "the host lists this KubeFedCluster more than once")
    for c in ctx.checked:
        toks = [meta(s).get("name") for s in (snap["members"][c].get("fed_secrets") or [])
                if s.get("type") == "kubernetes.io/service-account-token" and
                (meta(s).get("annotations") or {}).get(
                    "kubernetes.io/service-account.name") == MEMBER_SA]
        if len(toks) > 1:
            ctx.add("duplicate", "secrets", "kube-federation-system/" + MEMBER_SA, c, 1,
                    sorted(toks), "more than one token Secret of fed's member ServiceAccount")


def check(snapshot):
    """The verdict: {"violations", "checked": {"copies", "objects",
    "members"}, "skipped", "notes"}."""
    res = {"violations": [], "checked": {"copies": 0, "objects": 0, "members": []},
           "skipped": [], "notes": []}
    host = snapshot.get("host") or {}
    if not host.get("reachable", False):
        res["violations"].append(violation(
            "unreachable", None, None, "host", "an answer", host.get("error"),
            "the host apiserver did not answer the snapshot"))
        return res
    ctx = Ctx(snapshot, res)
    for tn in sorted(ctx.fed):
        for k in sorted(ctx.fed[tn]):
            check_object(ctx, ctx.types[tn], ctx.fed[tn][k])
    check_strays(ctx)
    check_fed_objects(ctx, snapshot)
    expect_rsp.check_rsps(ctx)
    return res


def format_violation(v):
    """One readable block: object, member, expected, actual (for stale,
    the differing fields only)."""
    lines = ["%s %s %s in %s" % (v.get("kind", "?").upper(), v.get("type") or "-",
                                 v.get("object") or "-", v.get("cluster") or "-")]
    if v.get("detail"):
        lines.append("  " + v["detail"])
    exp, act = v.get("expected"), v.get("actual")
    if v.get("kind") == "stale" and isinstance(exp, dict) and isinstance(act, dict):
        for p in exp:
            lines.append("  %s: expected %s, actual %s" % (
                p, json.dumps(exp[p], sort_keys=True), json.dumps(act.get(p), sort_keys=True)))
    else:
        lines.append("  expected: " + json.dumps(exp, sort_keys=True))
        lines.append("  actual:   " + json.dumps(act, sort_keys=True))
    return "\n".join(lines)


def main(argv):
    """python3 expect.py SNAPSHOT.json: the verdict on a saved snapshot
    (a replay needs no clusters); exit status 1 on any violation."""
    with open(argv[1]) as f:
        res = check(json.load(f))
    for v in res["violations"]:
        print(format_violation(v))
    for s in res["skipped"]:
        print("skipped %s: %s" % (s["cluster"], s["reason"]))
    print("%d violation(s); checked %d copies of %d objects in %s" % (
        len(res["violations"]), res["checked"]["copies"], res["checked"]["objects"],
        ", ".join(res["checked"]["members"]) or "no member"))
    return 1 if res["violations"] else 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv))
