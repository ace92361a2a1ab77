"""take_snapshot: everything expect.check() needs, listed once per type per
cluster through kube.Kube, as plain JSON-able dicts (the harness writes it
to a file, so a verdict can be replayed without clusters).

A member that does not answer (kube.KubeError) is recorded
reachable: False with the error, and nothing more is asked of it: a frozen
member costs one timeout, not one per type.

The shape (managedFields dropped everywhere):
  {"version": 1, "taken_at": epoch, "seconds": how long listing took,
   "orphaned": the workload's ledger as given,
   "host": {"reachable", "error", "kubefedclusters", "ftcs", "rsps",
            "federated": {FTC name: [federated objects]}},
   "members": {cluster: {"reachable", "error", "namespaces",
               "objects": {FTC name: [target objects, all namespaces]},
               "fed_secrets": [name/type/annotations of the Secrets in
                               the member's kube-federation-system]}}}
Secrets that are not copies keep only metadata and type.
"""

import time

import kube
from fedsem import FED_NS, MANAGED, meta, parse_ftc

VERSION = 1
# fed's own objects in a member's federation namespace (fedctl join)
FED_SECRETS = kube.path("", "v1", "secrets", FED_NS)


def _slim(objs):
    """Objects without managedFields (large, and not what anything checks)."""
    out = []
    for o in objs:
        if isinstance(o, dict):
            o = dict(o)
            o["metadata"] = {k: v for k, v in meta(o).items() if k != "managedFields"}
            out.append(o)
    return out


def _secret_meta(objs):
    """Token Secrets by name, type and annotations only: their data never
    goes into a snapshot file."""
    return [{"metadata": {k: meta(o).get(k) for k in ("name", "namespace", "annotations")},
             "type": o.get("type")} for o in objs]


def _host(host):
    out = {"reachable": True, "error": None}
    try:
        out["kubefedclusters"] = _slim(host.list(
            kube.path("core.kubefed.io", "v1beta1", "kubefedclusters", FED_NS)))
        ftcs = _slim(host.list(
            kube.path("core.kubefed.io", "v1beta1", "federatedtypeconfigs", FED_NS)))
        out["ftcs"] = ftcs
        out["federated"] = {}
        for f in ftcs:
            t = parse_ftc(f)
            if t:
                out["federated"][t["name"]] = _slim(host.list(
                    kube.path(t["fed_group"], t["fed_version"], t["fed_plural"])))
        out["rsps"] = _slim(host.list(kube.path(
            "scheduling.kubefed.io", "v1alpha1", "replicaschedulingpreferences")))
    except kube.KubeError as e:
        out = {"reachable": False, "error": str(e)}
    return out


def _secrets_kept(objs, federated):
    """Secrets whose data the checker compares: copies (labelled, or named
    like a FederatedSecret); the others (service account tokens, an agent's
    credential) keep only metadata, so no credential lands in a file."""
    out = []
    for o in objs:
        k = (meta(o).get("namespace") or "", meta(o).get("name"))
        if MANAGED in (meta(o).get("labels") or {}) or k in federated:
            out.append(o)
        else:
            out.append({"metadata": meta(o), "type": o.get("type")})
    return out


def _member(m, types, host):
    out = {"reachable": True, "error": None, "objects": {}}
    try:
        out["namespaces"] = _slim(m.list(kube.path("", "v1", "namespaces")))
        for t in types:
            if t["is_namespaces"]:
                out["objects"][t["name"]] = out["namespaces"]
                continue
            objs = _slim(m.list(kube.path(t["group"], t["version"], t["plural"])))
            if t["api_version"] == "v1" and t["kind"] == "Secret":
                objs = _secrets_kept(objs, {
                    (meta(f).get("namespace") or "", meta(f).get("name"))
                    for f in (host.get("federated") or {}).get(t["name"]) or []})
            out["objects"][t["name"]] = objs
        out["fed_secrets"] = _secret_meta(m.list(FED_SECRETS))
    except kube.KubeError as e:
        out = {"reachable": False, "error": str(e)}
    return out


def take_snapshot(host, members, orphaned):
    """host: kube.Kube of the host; members: {cluster: kube.Kube}, the
    clusters to look into (members of the Federation or not); orphaned: the
    workload's ledger of objects deleted with kubefed.io/orphan."""
    started = time.time()
    snap = {"version": VERSION, "taken_at": started, "host": _host(host), "members": {},
            "orphaned": [dict(o) for o in orphaned]}
    types = [t for t in (parse_ftc(f) for f in snap["host"].get("ftcs") or []) if t]
    for name in sorted(members):
        snap["members"][name] = _member(members[name], types, snap["host"])
    snap["seconds"] = round(time.time() - started, 3)
    return snap
