"""fed's propagation semantics in Python, for the chaos checker (expect.py):
placement, overrides (JSON patch), the object fed wants in a member and a
subset comparison with what the member holds. Pure; each part mirrors the
C file named in its heading, so the checker judges by fed's own rules.
"""

import base64
import copy
import re
from decimal import Decimal, InvalidOperation

FED_NS = "kube-federation-system"
MANAGED = "kubefed.io/managed"
ORPHAN_ANN = "kubefed.io/orphan"
FED_MANAGED_BY = "fed.io/managed-by"
RESERVED_NS = {"kube-system", "kube-public", "kube-node-lease", "default", FED_NS}
FORBIDDEN_PATHS = {"/metadata/name", "/metadata/namespace", "/metadata/generateName", "/kind"}
# metadata the template may not carry into a member (object_for_cluster.c)
DROPPED_META = ("finalizers", "resourceVersion", "uid", "creationTimestamp",
                "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields",
                "ownerReferences", "generation", "selfLink", "generateName")


# ---- small accessors --------------------------------------------------------

def meta(o):
    return (o or {}).get("metadata") or {}


def labels(o):
    return meta(o).get("labels") or {}


def annotations(o):
    return meta(o).get("annotations") or {}


def terminating(o):
    return bool(meta(o).get("deletionTimestamp"))


def condition(o, ctype):
    for c in ((o or {}).get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def cluster_ready(kfc):
    c = condition(kfc, "Ready")
    return bool(c) and c.get("status") == "True"


def violation(kind, ftype, obj, cluster, expected, actual, detail):
    return {"kind": kind, "type": ftype, "object": obj, "cluster": cluster,
            "expected": expected, "actual": actual, "detail": detail}


def obj_key(ns, name):
    return "%s/%s" % (ns or "", name)


# ---- types --------------------------------------------------------------------

def parse_ftc(ftc):
    """An enabled FederatedTypeConfig as a dict (None when disabled), with
    the defaults fed gives absent fields (apis/federated_type.c)."""
    spec = ftc.get("spec") or {}
    if spec.get("propagation") != "Enabled":
        return None
    name = meta(ftc).get("name") or ""
    tt, ft = spec.get("targetType") or {}, spec.get("federatedType") or {}
    plural, _, group = name.partition(".")
    t = {"name": name, "group": tt.get("group") or group, "version": tt.get("version"),
         "kind": tt.get("kind"), "plural": tt.get("pluralName") or plural,
         "namespaced": tt.get("scope") == "Namespaced"}
    t["is_namespaces"] = not t["group"] and t["plural"] == "namespaces"
    t["api_version"] = "%s/%s" % (t["group"], t["version"]) if t["group"] else t["version"]
    t["fed_group"] = ft.get("group") or "types.kubefed.io"
    t["fed_version"] = ft.get("version") or "v1beta1"
    t["fed_kind"] = ft.get("kind") or "Federated" + (t["kind"] or "")
    t["fed_plural"] = ft.get("pluralName") or "federated" + t["plural"]
    return t


def target_key(t, fed):
    """(namespace, name) of fed's copy in a member."""
    m = meta(fed)
    return (m.get("namespace") if t["namespaced"] else None), m.get("name")


def fed_key_of_copy(t, obj):
    """(namespace, name) of the federated object a member object copies."""
    m = meta(obj)
    if t["is_namespaces"]:
        return m.get("name"), m.get("name")
    return (m.get("namespace") if t["namespaced"] else None), m.get("name")


# ---- placement (apis/placement.c) ---------------------------------------------

def _selector_matches(sel, lbls):
    if not isinstance(sel, dict):
        raise ValueError("clusterSelector: must be an object")
    ml = sel.get("matchLabels")
    ok = True
    if ml is not None:
        if not isinstance(ml, dict) or not all(isinstance(v, str) for v in ml.values()):
            raise ValueError("clusterSelector.matchLabels: must be a map of strings")
        ok = all(lbls.get(k) == v for k, v in ml.items())
    exprs = sel.get("matchExpressions")
    if exprs is not None and not isinstance(exprs, list):
        raise ValueError("clusterSelector.matchExpressions: must be a list")
    for x in exprs or []:
        if not isinstance(x, dict) or not isinstance(x.get("key"), str) or not x["key"]:
            raise ValueError("clusterSelector.matchExpressions: bad key")
        op, vals = x.get("operator"), x.get("values")
        if vals is not None and not isinstance(vals, list):
            raise ValueError("clusterSelector.matchExpressions: values not a list")
        vals = vals or []
        if not all(isinstance(v, str) for v in vals):
            raise ValueError("clusterSelector.matchExpressions: values not strings")
        have = lbls.get(x["key"]) if isinstance(lbls.get(x["key"]), str) else None
        if op in ("In", "NotIn"):
            if not vals:
                raise ValueError("clusterSelector.matchExpressions: %s needs values" % op)
            found = have is not None and have in vals
            ok = ok and (found if op == "In" else not found)
        elif op in ("Exists", "DoesNotExist"):
            if vals:
                raise ValueError("clusterSelector.matchExpressions: %s takes no values" % op)
            ok = ok and ((have is not None) == (op == "Exists"))
        else:
            raise ValueError("clusterSelector.matchExpressions: bad operator %r" % (op,))
    return ok


def select(placement, members):
    """The names in members ({name: labels}) that placement selects; a
    list (even []) wins over clusterSelector; no selector selects none, {}
    all. ValueError for a placement fed refuses."""
    if placement is None:
        return set()
    if not isinstance(placement, dict):
        raise ValueError("spec.placement: must be an object")
    clusters = placement.get("clusters")
    if clusters is not None:
        if not isinstance(clusters, list):
            raise ValueError("spec.placement.clusters: must be a list")
        names = set()
        for c in clusters:
            if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not c["name"]:
                raise ValueError("spec.placement.clusters[].name: required")
            names.add(c["name"])
        return names & set(members)
    sel = placement.get("clusterSelector")
    if sel is None:
        return set()
    _selector_matches(sel, {})  # validated even without members
    return {n for n, lb in members.items() if _selector_matches(sel, lb or {})}


# ---- overrides (apis/overrides.c) ---------------------------------------------

def _op_kind(op):
    if op is None or op == "" or op == "replace":
        return "replace"
    if op in ("add", "remove"):
        return op
    return None


def _pointer(path):
    if not isinstance(path, str) or not path.startswith("/") or re.search(r"~[^01]|~$", path):
        raise ValueError("bad JSON pointer %r" % (path,))
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def validate_overrides(ov):
    """None when fed accepts spec.overrides, else why not."""
    if ov is None:
        return None
    if not isinstance(ov, list):
        return "spec.overrides: must be a list"
    names = set()
    for i, o in enumerate(ov):
        if not isinstance(o, dict) or not isinstance(o.get("clusterName"), str) \
                or not o["clusterName"]:
            return "spec.overrides[%d]: needs a clusterName" % i
        if o["clusterName"] in names:
            return "spec.overrides[%d]: clusterName appears twice" % i
        names.add(o["clusterName"])
        cos = o.get("clusterOverrides")
        if cos is not None and not isinstance(cos, list):
            return "spec.overrides[%d].clusterOverrides: must be a list" % i
        paths = set()
        for co in cos or []:
            if not isinstance(co, dict) or _op_kind(co.get("op")) is None:
                return "spec.overrides[%d]: bad op" % i
            p = co.get("path")
            try:
                _pointer(p)
            except ValueError as e:
                return "spec.overrides[%d]: %s" % (i, e)
            if p in FORBIDDEN_PATHS or p in paths:
                return "spec.overrides[%d]: path %s forbidden or twice" % (i, p)
            if _op_kind(co.get("op")) != "remove" and "value" not in co:
                return "spec.overrides[%d]: value required" % i
            paths.add(p)
    return None


def overrides_for(ov, cluster):
    for o in ov or []:
        if isinstance(o, dict) and o.get("clusterName") == cluster:
            return o.get("clusterOverrides") or []
    return None


class PatchError(ValueError):
    """An override op that does not apply to the object."""


def _index(tok, size, add):
    if tok == "-" and add:
        return size
    if not re.fullmatch(r"0|[1-9][0-9]*", tok):
        raise PatchError("%r is not an index" % tok)
    i = int(tok)
    if i > size or (i == size and not add):
        raise PatchError("index %d out of range" % i)
    return i


def json_patch(doc, ops):
    """RFC 6902 add/remove/replace as fed applies them: atomic, a new
    document returned; PatchError when an op does not apply."""
    doc = copy.deepcopy(doc)
    for o in ops or []:
        kind, toks = _op_kind(o.get("op")), _pointer(o.get("path"))
        value = copy.deepcopy(o.get("value"))
        parent = doc
        for t in toks[:-1]:
            if isinstance(parent, dict) and t in parent:
                parent = parent[t]
            elif isinstance(parent, list):
                parent = parent[_index(t, len(parent), False)]
            else:
                raise PatchError("%s: no member %r" % (o.get("path"), t))
        last = toks[-1]
        if isinstance(parent, dict):
            if last not in parent and kind != "add":
                raise PatchError("%s: no member %r" % (o.get("path"), last))
            if kind == "remove":
                del parent[last]
            else:
                parent[last] = value
        elif isinstance(parent, list):
            i = _index(last, len(parent), kind == "add")
            if kind == "remove":
                del parent[i]
            elif kind == "replace":
                parent[i] = value
            else:
                parent.insert(i, value)
        else:
            raise PatchError("%s: parent is not an object or a list" % o.get("path"))
    return doc


# ---- the object fed wants in a member (apis/object_for_cluster.c) -------------

def _unset(v):
    return v is None or v == "" or v == [] or (isinstance(v, (int, float))
                                               and not isinstance(v, bool) and v == 0)


def _retain(t, obj, fed_spec, existing):
    """Fields the member owns, from its copy (so they never differ)."""
    if not existing:
        return
    core, kind = t["api_version"] == "v1", t["kind"]
    es = existing.get("spec") if isinstance(existing.get("spec"), dict) else {}
    if core and kind in ("Service", "PersistentVolumeClaim"):
        ds = obj.setdefault("spec", {})
        if not isinstance(ds, dict):
            return
        keys = ("volumeName", "storageClassName") if kind != "Service" else (
            "clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "healthCheckNodePort")
        for k in keys:
            if _unset(ds.get(k)) and not _unset(es.get(k)):
                ds[k] = es[k]
        for dp, ep in zip(ds.get("ports") or [], es.get("ports") or []):
            if isinstance(dp, dict) and isinstance(ep, dict) and \
                    _unset(dp.get("nodePort")) and ep.get("nodePort"):
                dp["nodePort"] = ep["nodePort"]
    elif core and kind == "ServiceAccount":
        for k in ("secrets", "imagePullSecrets"):
            if _unset(obj.get(k)) and not _unset(existing.get(k)):
                obj[k] = existing[k]
    if fed_spec.get("retainReplicas") is True and isinstance(es.get("replicas"), int):
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            spec["replicas"] = es["replicas"]


def desired_object(fed, t, cluster, existing=None):
    """fed's object for cluster: template, retained member fields, the
    cluster's overrides, identity, the managed label (added after the
    overrides: an override cannot add to labels the template lacks).
    PatchError when an op does not apply (fed: ComputeResourceFailed),
    ValueError when the result is not an object (ApplyOverridesFailed)."""
    spec = fed.get("spec") or {}
    obj = copy.deepcopy(spec.get("template") or {})
    obj.pop("status", None)
    if not obj.get("apiVersion"):
        obj["apiVersion"] = t["api_version"]
    m = obj.setdefault("metadata", {})
    for k in DROPPED_META:
        m.pop(k, None)
    for k in ("labels", "annotations"):
        if k in m and m[k] is None:
            del m[k]
    _retain(t, obj, spec, existing)

    def identity(o):
        o["kind"] = t["kind"]
        md = o.setdefault("metadata", {})
        md["name"] = meta(fed).get("name")
        if t["namespaced"]:
            md["namespace"] = meta(fed).get("namespace")
        else:
            md.pop("namespace", None)
    identity(obj)
    ops = overrides_for(spec.get("overrides"), cluster)
    if ops:
        obj = json_patch(obj, ops)
        if not isinstance(obj.get("metadata"), dict):
            raise ValueError("overrides leave metadata not an object")
        identity(obj)
    lb = obj["metadata"].get("labels")
    if lb is None:
        lb = obj["metadata"]["labels"] = {}
    if not isinstance(lb, dict):
        raise ValueError("overrides leave metadata.labels not a map")
    lb[MANAGED] = "true"
    if t["api_version"] == "v1" and t["kind"] == "Secret" and isinstance(
            obj.get("stringData"), dict):
        # the apiserver stores stringData as base64 data
        data = dict(obj.get("data") or {})
        for k, v in obj.pop("stringData").items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        obj["data"] = data
    return obj


# ---- comparison ---------------------------------------------------------------

_QTY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$")
_SUFFIX = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1,
           "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
           "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
           "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50,
           "Ei": 2 ** 60}


def _quantity(s):
    m = _QTY.match(s)
    if not m:
        return None
    try:
        n, suf = Decimal(m.group(1)), m.group(2) or ""
        if suf[:1] in ("e", "E") and len(suf) > 1:
            return n.scaleb(int(suf[1:]))
        return n * _SUFFIX[suf]
    except (InvalidOperation, KeyError, ValueError):
        return None


def _same_scalar(e, a, path):
    if isinstance(e, bool) or isinstance(a, bool):
        return e is a
    if isinstance(e, (int, float)) and isinstance(a, (int, float)):
        return e == a
    if isinstance(e, (str, int, float)) and isinstance(a, str):
        # resource quantities come back normalized ("0.5" or 0.5 -> "500m")
        qty = any(s in path for s in ("/resources/", "/capacity/", "/hard/"))
        return e == a or (qty and _quantity(str(e)) is not None and
                          _quantity(str(e)) == _quantity(a))
    return e == a


def _empty(v):
    """Values the apiserver drops (omitempty) or fed sends as nothing."""
    return v is None or v == {} or v == [] or v == "" or v is False


def diff(exp, act, path=""):
    """[(path, expected, actual)]: where act does not hold exp; act may
    have more (defaults, status, member metadata)."""
    if isinstance(exp, dict):
        if not isinstance(act, dict):
            return [] if _empty(exp) and act is None else [(path or "/", exp, act)]
        out = []
        for k, v in exp.items():
            p = path + "/" + k.replace("~", "~0").replace("/", "~1")
            if k not in act:
                if not _empty(v):
                    out.append((p, v, None))
            else:
                out += diff(v, act[k], p)
        return out
    if isinstance(exp, list):
        if not isinstance(act, list) or len(act) != len(exp):
            return [] if _empty(exp) and act is None else [(path or "/", exp, act)]
        out = []
        for i, (e, a) in enumerate(zip(exp, act)):
            out += diff(e, a, "%s/%d" % (path, i))
        return out
    return [] if _same_scalar(exp, act, path) else [(path or "/", exp, act)]


def _drop(obj, dotted):
    cur = obj
    parts = dotted.split(".")
    for p in parts[:-1]:
        cur = cur.get(p) if isinstance(cur, dict) else None
    if isinstance(cur, dict):
        cur.pop(parts[-1], None)


def stale_diff(want, actual, skip=()):
    """The fields of fed's object `want` (desired_object) that the member's
    copy `actual` does not hold, as [{path, expected, actual}]."""
    want = copy.deepcopy(want)
    want.pop("apiVersion", None)  # list items carry neither; the list's version is served
    want.pop("kind", None)
    for s in skip:
        _drop(want, s)
    return [{"path": p, "expected": e, "actual": a} for p, e, a in diff(want, actual)]
