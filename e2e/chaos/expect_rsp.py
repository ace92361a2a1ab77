"""The checker's ReplicaSchedulingPreference rules (kind "rsp"), from
fed-controller/rsp/rsp.c and rsp_status.c and docs/api.md:

- the status is current: observedGeneration, one Scheduled condition;
  with a target, True and reason Scheduled (Moving means replicas are
  still moving: not settled), except Moving with unplaced replicas: fed
  never lets the available replicas drop below totalReplicas, so where
  replicas cannot be placed anywhere the running ones stay (by design,
  docs/api.md), and then each member must run what the status says it
  is asked (applied); without a target, False TargetNotFound (or
  TargetTypeNotEnabled);
- status.clusters lists every member of the Federation (the planner's
  candidates are all members; "no entry" and "not selected by placement"
  get 0);
- the shares add up: sum(replicas) + unplacedReplicas == totalReplicas,
  each share within the member's minReplicas/maxReplicas (its own entry or
  "*"), applied == replicas + overflow for members not offline;
- the target asks it: a member with applied > 0 is in the target's
  placement.clusters with the override /spec/replicas == applied, and
  its Deployment copy's spec.replicas == applied; over the Ready members
  the copies' replicas sum to totalReplicas - unplaced + overflow.
"""

from fedsem import MANAGED, condition, meta, obj_key, overrides_for, select, terminating


def _pref(spec, cluster):
    clusters = spec.get("clusters") or {"*": {"weight": 1}}
    p = clusters.get(cluster, clusters.get("*"))
    return p if isinstance(p, dict) else None


def _override_replicas(fed, cluster):
    for op in overrides_for((fed.get("spec") or {}).get("overrides"), cluster) or []:
        if isinstance(op, dict) and op.get("path") == "/spec/replicas":
            return op.get("value")
    return None


def _placed_list(fed):
    pl = (fed.get("spec") or {}).get("placement") or {}
    return {c.get("name") for c in pl.get("clusters") or [] if isinstance(c, dict)}


def _target(ctx, rsp):
    kind = (rsp.get("spec") or {}).get("targetKind")
    t = next((t for t in ctx.types.values() if t["fed_kind"] == kind), None)
    if t is None:
        return None, None, "TargetTypeNotEnabled"
    fed = ctx.fed.get(t["name"], {}).get((meta(rsp).get("namespace"), meta(rsp).get("name")))
    return t, fed, None if fed is not None else "TargetNotFound"


def check_rsp(ctx, rsp):
    key = obj_key(meta(rsp).get("namespace"), meta(rsp).get("name"))
    spec, st = rsp.get("spec") or {}, rsp.get("status") or {}

    def bad(cluster, expected, actual, detail):
        ctx.add("rsp", "replicaschedulingpreferences", key, cluster, expected, actual, detail)

    gen = meta(rsp).get("generation")
    if gen is not None and st.get("observedGeneration") != gen:
        bad(None, {"observedGeneration": gen},
            {"observedGeneration": st.get("observedGeneration")},
            "status.observedGeneration is not the RSP's generation")
    t, fed, missing = _target(ctx, rsp)
    sc = condition(rsp, "Scheduled") or {}
    have = {"status": sc.get("status"), "reason": sc.get("reason")}
    if missing:
        if have != {"status": "False", "reason": missing}:
            bad(None, {"status": "False", "reason": missing}, have,
                "the Scheduled condition should say " + missing)
        return
    held = have == {"status": "True", "reason": "Moving"} and (st.get("unplacedReplicas") or 0) > 0
    if have != {"status": "True", "reason": "Scheduled"} and not held:
        bad(None, {"status": "True", "reason": "Scheduled"},
            dict(have, message=sc.get("message")), "the RSP is not settled on a plan")
        return
    if held:
        ctx.note("rsp-held", "replicaschedulingpreferences", key, None,
                 "replicas that cannot be placed keep running where they are: " + str(sc.get("message")))
    total = spec.get("totalReplicas") or 0
    entries = {e.get("name"): e for e in st.get("clusters") or [] if isinstance(e, dict)}
    if sorted(entries) != sorted(ctx.members):
        bad(None, sorted(ctx.members), sorted(entries),
            "status.clusters does not list exactly the members of the Federation")
    unplaced = st.get("unplacedReplicas") or 0
    live = {n: e for n, e in entries.items() if not e.get("offline")}
    shares = sum(e.get("replicas") or 0 for e in live.values())
    if shares + unplaced != total:
        bad(None, {"totalReplicas": total},
            {"sum of replicas": shares, "unplacedReplicas": unplaced},
            "the shares do not add up to totalReplicas")
    cs = ((fed.get("spec") or {}).get("placement") or {}).get("clusterSelector")
    try:
        selected = select({"clusterSelector": cs}, ctx.members)
    except ValueError:
        selected = set()
    # fed gives no share where the target's namespace is not placed (its
    # FederatedNamespace decides): a share there would never run
    tns = meta(fed).get("namespace")
    nst = next((x["name"] for x in ctx.types.values() if x.get("is_namespaces")), None)
    ns_placed = ctx.placed.get((nst, tns, tns)) if tns and nst else None
    for n, e in sorted(live.items()):
        p = _pref(spec, n)
        if tns and nst and (ns_placed is None or n not in ns_placed):
            if e.get("replicas"):
                bad(n, 0, e.get("replicas"), "a share where the target's namespace is not placed")
            continue
        if spec.get("intersectWithClusterSelector") and n not in selected and e.get("replicas"):
            bad(n, 0, e.get("replicas"), "a share for a member the target's clusterSelector "
                "does not select (intersectWithClusterSelector)")
        r, over = e.get("replicas") or 0, e.get("overflow") or 0
        if p is None and r:
            bad(n, 0, r, "a share for a member without an entry and without \"*\"")
        if p and p.get("maxReplicas") is not None and r > p["maxReplicas"]:
            bad(n, {"maxReplicas": p["maxReplicas"]}, r, "a share above maxReplicas")
        mins = sum((_pref(spec, m) or {}).get("minReplicas") or 0 for m in live)
        if p and mins <= total and r + over < (p.get("minReplicas") or 0):
            bad(n, {"minReplicas": p["minReplicas"]}, r + over, "a share below minReplicas")
        if e.get("applied") != r + over and not held:
            bad(n, r + over, e.get("applied"), "applied is not the plan (replicas + overflow)")
    copies, absent = 0, False
    for n, e in sorted(live.items()):
        applied = e.get("applied") or 0
        if applied and (n not in _placed_list(fed) or _override_replicas(fed, n) != applied):
            bad(n, {"placed": True, "/spec/replicas": applied},
                {"placed": n in _placed_list(fed), "/spec/replicas": _override_replicas(fed, n)},
                "the target does not ask the member for its share")
        if n not in ctx.checked:
            continue
        tns, tname = meta(fed).get("namespace") or "", meta(fed).get("name")
        cp = ctx.copies[n].get(t["name"], {}).get((tns, tname))
        if cp is not None and (meta(cp).get("labels") or {}).get(MANAGED) != "true":
            cp = None  # not fed's (orphaned on purpose, by fedctl delete --orphan say)
        have_r = ((cp or {}).get("spec") or {}).get("replicas") if cp and not terminating(cp) \
            else None
        absent = absent or (applied and have_r is None)  # "missing" reports it
        if applied and cp is not None and have_r != applied:
            bad(n, applied, have_r, "the member's copy does not run its share")
        copies += have_r or 0
    if not absent and all(n in ctx.checked for n, e in live.items() if e.get("applied")):
        want = total - unplaced + sum(e.get("overflow") or 0 for e in live.values())
        if held:
            want = sum(e.get("applied") or 0 for e in live.values())
        if copies != want:
            bad(None, want, copies,
                "the Ready members' copies do not add up to totalReplicas - unplaced + "
                "overflow")


def check_rsps(ctx):
    for rsp in sorted(ctx.rsps, key=lambda r: (meta(r).get("namespace"), meta(r).get("name"))):
        if not terminating(rsp):
            check_rsp(ctx, rsp)
