"""Values of the chaos workload: API paths, the Widget CRD and the random
templates, placements, overrides and RSP specs. Pure: every function draws
only from the rng it is given and does no I/O."""

from __future__ import annotations

import base64
import json
import random
from urllib.parse import quote

from kube import path as kpath


FED_GROUP, FED_VERSION = "types.kubefed.io", "v1beta1"
FED_NS = "kube-federation-system"
CRD_PATH = kpath("apiextensions.k8s.io", "v1", "customresourcedefinitions")
WIDGET_GROUP, WIDGET_VERSION = "chaos.fed.io", "v1alpha1"
WIDGET_TYPE = "widgets.chaos.fed.io"
NS_TYPE = "namespaces"
RSP_TYPE = "replicaschedulingpreferences.scheduling.kubefed.io"
KFC_TYPE = "kubefedclusters.core.kubefed.io"
# FederatedTypeConfig name -> (federated plural, target group, version, plural, kind)
KINDS = {
    "configmaps": ("federatedconfigmaps", "", "v1", "configmaps", "ConfigMap"),
    "secrets": ("federatedsecrets", "", "v1", "secrets", "Secret"),
    "deployments.apps": ("federateddeployments", "apps", "v1", "deployments", "Deployment"),
    WIDGET_TYPE: ("federatedwidgets", WIDGET_GROUP, WIDGET_VERSION, "widgets", "Widget"),
}
NS_TARGET = ("federatednamespaces", "", "v1", "namespaces", "Namespace")
STABLE_NAMESPACES = ("chaos-s0", "chaos-s1", "chaos-s2")
UNKNOWN_CLUSTER = "no-such-member"
ORPHAN = "kubefed.io/orphan"
MANAGED_SELECTOR = quote("kubefed.io/managed=true", safe="")
IMAGES = ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.10")
SELECTORS = (  # cluster labels come from `kubectl label kubefedcluster` (op "label")
    {},
    {"matchLabels": {"region": "eu"}},
    {"matchLabels": {"tier": "gold"}},
    {"matchExpressions": [{"key": "region", "operator": "In", "values": ["eu", "us"]}]},
    {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]},
)


def widget_crd() -> dict:
    spec_schema = {
        "type": "object", "x-kubernetes-preserve-unknown-fields": True,
        "properties": {"size": {"type": "integer"}, "color": {"type": "string"},
                       "tags": {"type": "array", "items": {"type": "string"}}},
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": WIDGET_TYPE},
        "spec": {
            "group": WIDGET_GROUP, "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget",
                      "listKind": "WidgetList"},
            "versions": [{"name": WIDGET_VERSION, "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": {
                              "type": "object",
                              "properties": {"spec": spec_schema}}}}],
        },
    }


def established(crd: dict | None) -> bool:
    conds = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conds)


def fed_path(ftc: str, ns: str | None = None, name: str | None = None) -> str:
    plural = NS_TARGET[0] if ftc == NS_TYPE else KINDS[ftc][0]
    return kpath(FED_GROUP, FED_VERSION, plural, ns, name)


def rsp_path(ns: str | None = None, name: str | None = None) -> str:
    return kpath("scheduling.kubefed.io", "v1alpha1", "replicaschedulingpreferences", ns, name)


def labels(rng: random.Random) -> dict:
    return {"chaos-gen": str(rng.randrange(1000)), "chaos-tier": rng.choice(["a", "b", "c"])}


def placement(rng: random.Random, names: list[str]) -> dict:
    if rng.random() < 0.75:
        names = names
        picked = sorted(rng.sample(names, rng.randint(0, len(names))))
        if rng.random() < 0.15:
            picked.append(UNKNOWN_CLUSTER)
        return {"clusters": [{"name": n} for n in picked]}
    return {"clusterSelector": json.loads(json.dumps(rng.choice(SELECTORS)))}


def template(rng: random.Random, ftc: str, name: str) -> dict:
    meta = {"labels": labels(rng)}
    if ftc == "configmaps":
        data = {"base": str(rng.randrange(10**6))}
        for i in range(rng.randint(0, 3)):
            data[f"k{i}"] = "x" * rng.randint(0, 40)
        return {"metadata": meta, "data": data}
    if ftc == "secrets":
        vals = {"base": str(rng.randrange(10**6)), "pw": format(rng.getrandbits(64), "x")}
        if rng.random() < 0.5:
            return {"metadata": meta, "type": "Opaque", "stringData": vals}
        return {"metadata": meta, "type": "Opaque",
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in vals.items()}}
    if ftc == "deployments.apps":
        env = [{"name": f"E{i}", "value": str(rng.randrange(100))}
               for i in range(rng.randint(0, 2))]
        return {"metadata": meta, "spec": {
            "replicas": rng.randint(1, 3),
            "selector": {"matchLabels": {"app": name}},  # immutable: from the name only
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "c", "image": rng.choice(IMAGES),
                                                  "env": env}]}}}}
    return {"metadata": meta, "spec": {
        "size": rng.randint(0, 100), "color": rng.choice(["red", "green", "blue"]),
        "tags": [rng.choice(["x", "y", "z"]) for _ in range(rng.randint(0, 3))]}}


def override_ops(rng: random.Random, ftc: str) -> list[dict]:
    """Ops valid on every template() result (each path exists or has a parent)."""
    cands = [{"op": "add", "path": "/metadata/labels/chaos-override",
              "value": str(rng.randrange(100))}]
    if ftc == "configmaps":
        cands += [{"op": "add", "path": "/data/over", "value": str(rng.randrange(100))},
                  {"op": "remove", "path": "/data/base"}]
    elif ftc == "deployments.apps":
        cands += [{"path": "/spec/replicas", "value": rng.randint(0, 3)},
                  {"op": "replace", "path": "/spec/template/spec/containers/0/image",
                   "value": rng.choice(IMAGES)}]
    elif ftc == WIDGET_TYPE:
        cands += [{"op": "add", "path": "/spec/color", "value": "over"},
                  {"path": "/spec/size", "value": rng.randint(0, 9)}]
    return rng.sample(cands, rng.randint(1, len(cands)))


def overrides(rng: random.Random, names: list[str], ftc: str) -> list[dict]:
    pool = names + [UNKNOWN_CLUSTER]
    return [{"clusterName": c, "clusterOverrides": override_ops(rng, ftc)}
            for c in rng.sample(pool, rng.randint(0, 2))]


def rsp_spec(rng: random.Random, names: list[str], star: bool = True) -> dict:
    """star=False: only the named members get replicas (the harness names
    those with a workload controller, where replicas become available, so
    a move between members can finish)."""
    spec: dict = {"targetKind": "FederatedDeployment", "totalReplicas": rng.randint(0, 10)}
    if rng.random() < 0.5:
        spec["rebalance"] = rng.random() < 0.5
    if rng.random() < 0.8 or not star:
        clusters: dict = {}
        head = ["*"] if star else []
        for c in head + rng.sample(names, rng.randint(0 if star else 1, len(names))):
            pref: dict = {"weight": rng.randint(0, 3)}
            if rng.random() < 0.3:
                pref["minReplicas"] = rng.randint(0, 2)
            if rng.random() < 0.3:
                pref["maxReplicas"] = pref.get("minReplicas", 0) + rng.randint(0, 4)
            clusters[c] = pref
        spec["clusters"] = clusters
    return spec


def fed_obj(kind: str, ns: str, name: str, tmpl: dict | None, plc: dict,
            ovr: list | None = None) -> dict:
    spec: dict = {"placement": plc}
    if tmpl is not None:
        spec["template"] = tmpl
    if ovr:
        spec["overrides"] = ovr
    return {"apiVersion": f"{FED_GROUP}/{FED_VERSION}", "kind": kind,
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def drift_patch(ftc: str, item: dict, mark: str) -> dict:
    """Changes fields fed owns (the template's labels and data), so fed must undo them."""
    owned = {k: mark for k in (item["metadata"].get("labels") or {})
             if not k.startswith("kubefed.io/")}
    patch: dict = {"metadata": {"labels": owned or {"chaos-drift": mark}}}
    if ftc == "configmaps":
        patch["data"] = {k: mark for k in (item.get("data") or {"drift": ""})}
    elif ftc == "secrets":
        b = base64.b64encode(mark.encode()).decode()
        patch["data"] = {k: b for k in (item.get("data") or {"drift": ""})}
    elif ftc == "deployments.apps":
        patch["spec"] = {"replicas": (item.get("spec", {}).get("replicas") or 0) + 1}
    elif ftc == WIDGET_TYPE:
        patch["spec"] = {"color": mark}
    return patch
