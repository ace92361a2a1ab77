"""Seeded random workload for the chaos harness.

Workload.step() makes one random change to the federation: federated
objects (ConfigMaps, Secrets, Deployments, Widgets of a custom type) and
FederatedNamespaces created, updated and deleted (normal and orphaning),
RSPs, join/delete of the fifth member, cluster labels, and member-side drift.
Every random value of a step is drawn before its first request, so the same
seed and the same answers give the same stream of operations; which existing
object an op touches comes from this generator's own bookkeeping. The values
themselves (templates, placements, ...) are made in workload_gen.py.
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable

from workload_gen import (CRD_PATH, FED_NS, KFC_TYPE, KINDS, MANAGED_SELECTOR, NS_TARGET,
                          NS_TYPE, ORPHAN, RSP_TYPE, STABLE_NAMESPACES, WIDGET_TYPE,
                          FED_GROUP, drift_patch, established, fed_obj, fed_path, kpath,
                          rsp_path,
                          labels, overrides, placement, rsp_spec, template, widget_crd)

# op -> weight; join/delete of the fifth member about 1 op in 40
OPS = {
    "create": 30, "update-template": 14, "update-placement": 7, "update-overrides": 7,
    "delete": 6, "delete-orphan": 3,
    "ns-create": 3, "ns-update": 2, "ns-delete": 1.5, "ns-delete-orphan": 1,
    "rsp-create": 4, "rsp-update": 4, "rsp-delete": 2,
    "join": 1.2, "unjoin": 1.2, "label": 1.5, "drift-edit": 4, "drift-delete": 3,
}
CALL_TIMEOUT = 5.0  # seconds per request
STEP_BUDGET = 12.0  # no new attempt of a retried write after this many seconds
PUT_ATTEMPTS = 3
SETUP_WAIT = 60.0
CT = {"merge": "application/merge-patch+json", "json": "application/json-patch+json"}

Answer = tuple  # (ok, status) or (ok, status, object picked by the op)


class Workload:
    def __init__(self, rng: random.Random, host: Any, members: dict[str, Any], fifth: str,
                 fedctl: Callable[[list[str]], tuple[int, str]],
                 record: Callable[[dict], None], role_dir: str | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 ns_members: list[str] | None = None):
        self.rng, self.host, self.members, self.fifth = rng, host, members, fifth
        # where ephemeral namespaces may go: members with a namespace
        # controller (elsewhere a deleted namespace stays Terminating)
        self.ns_members = sorted(ns_members) if ns_members else None
        self.fedctl, self.record, self.role_dir = fedctl, record, role_dir
        self.clock, self.sleep = clock, sleep
        self.run = format(rng.getrandbits(24), "06x")  # names unique across runs of other seeds
        self.seq = 0
        self.orphaned: list[dict] = []
        self.objects: dict[tuple[str, str, str], bool] = {}  # (ftc, ns, name), in creation order
        self.namespaces: dict[str, dict] = {}  # name -> {"stable", "live"}
        self.rsps: dict[tuple[str, str], bool] = {}
        self._counts: dict[str, dict[str, int]] = {}

    # ---- bookkeeping -------------------------------------------------------
    def names(self) -> list[str]:
        return sorted(self.members)

    def _unique(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}-{self.run}-{self.seq}"

    def _ledger(self, ftc: str, ns: str, name: str) -> None:
        entry = {"type": ftc, "namespace": ns, "name": name}
        if entry not in self.orphaned:
            self.orphaned.append(entry)

    def counts(self) -> dict:
        total = {"ok": 0, "failed": 0}
        for c in self._counts.values():
            total["ok"] += c["ok"]
            total["failed"] += c["failed"]
        return {"total": total["ok"] + total["failed"], **total,
                "ops": {k: dict(v) for k, v in sorted(self._counts.items())}}

    def _emit(self, op: str, ftc: str, obj: str, cluster: str | None, ok: bool,
              status: Any) -> dict:
        ev = {"t": time.time(), "op": op, "type": ftc, "object": obj, "cluster": cluster,
              "ok": bool(ok), "status": status}
        c = self._counts.setdefault(f"{op} {ftc}", {"ok": 0, "failed": 0})
        c["ok" if ok else "failed"] += 1
        try:
            self.record(ev)
        except Exception:  # a broken recorder must not stop the stream
            pass
        return ev

    # ---- requests: every one bounded, none raises ------------------------------
    def _req(self, kube: Any, method: str, path: str, body: Any = None,
             kind: str | None = None) -> tuple[int | str, Any]:
        """(HTTP status, body), or (error text, None) when no answer came."""
        try:
            ct = CT[kind] if kind else "application/json"
            code, out = kube.request(method, path, body, content_type=ct, timeout=CALL_TIMEOUT)
            return code, out
        except Exception as e:
            return f"{type(e).__name__}: {e}"[:300], None

    @staticmethod
    def _ok(code: int | str) -> bool:
        return isinstance(code, int) and 200 <= code < 300

    @staticmethod
    def _unanswered(code: int | str) -> bool:
        """No answer, or one that does not say whether the write happened."""
        return not isinstance(code, int) or code >= 500

    # ---- setup --------------------------------------------------------------
    def setup(self) -> None:
        """The Widget type (CRD in host and members, fedctl enable) and the stable
        namespaces. Idempotent. Raises RuntimeError when the host is not ready
        for the stream; a member that does not answer is recorded, not fatal
        (fed-controller copies the CRD to members itself)."""
        crd = widget_crd()
        for name, kube in [("host", self.host)] + sorted(self.members.items()):
            code, _ = self._req(kube, "POST", CRD_PATH, crd)
            ok = self._ok(code) or code == 409
            self._emit("setup-crd", WIDGET_TYPE, WIDGET_TYPE, name, ok, code)
            if name == "host" and not ok:
                raise RuntimeError(f"setup: create CRD {WIDGET_TYPE} in the host: {code}")
        self._wait_established(WIDGET_TYPE)
        args = ["enable", WIDGET_TYPE]
        if self.role_dir:
            args += ["--member-role-dir", self.role_dir]
        rc, out = self.fedctl(args)
        self._emit("setup-enable", WIDGET_TYPE, "", None, rc == 0, rc)
        if rc != 0:
            raise RuntimeError(f"setup: fedctl enable {WIDGET_TYPE} exited {rc}: "
                               f"{out.strip()[-300:]}")
        self._wait_established(f"{KINDS[WIDGET_TYPE][0]}.{FED_GROUP}")
        everywhere = {"clusters": [{"name": n} for n in self.names()]}
        for ns in STABLE_NAMESPACES:
            namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            fns = fed_obj("FederatedNamespace", ns, ns, None, everywhere)
            for path, obj in ((kpath("", "v1", "namespaces"), namespace),
                              (fed_path(NS_TYPE, ns), fns)):
                code, _ = self._req(self.host, "POST", path, obj)
                if not (self._ok(code) or code == 409):
                    raise RuntimeError(f"setup: create {obj['kind']} {ns} in the host: {code}")
            self.namespaces[ns] = {"stable": True, "live": True}

    def _wait_established(self, crd_name: str) -> None:
        deadline = self.clock() + SETUP_WAIT
        while True:
            code, crd = self._req(self.host, "GET", f"{CRD_PATH}/{crd_name}")
            if code == 200 and established(crd):
                return
            if self.clock() >= deadline:
                raise RuntimeError(f"setup: CRD {crd_name} not Established in the host "
                                   f"after {SETUP_WAIT:.0f}s (last answer {code})")
            self.sleep(0.5)

    def step(self) -> dict:
        """One random operation; bounded in time; never raises for API errors."""
        op, ftc, obj, cluster, run = self._plan()
        try:
            ok, status, *picked = run()
            obj = picked[0] if picked else obj
        except Exception as e:  # a bug in an op must not end the run either
            ok, status = False, f"{type(e).__name__}: {e}"[:300]
        return self._emit(op, ftc, obj, cluster, ok, status)

    def _plan(self) -> tuple[str, str, str, str | None, Callable[[], Answer]]:
        """Draws every random value of the step and returns the I/O to do as a closure."""
        op = self.rng.choices(list(OPS), weights=list(OPS.values()))[0]
        planner = getattr(self, "_plan_" + op.replace("-", "_"))
        return planner() or self._plan_create()

    def _live_ns(self) -> list[str]:
        return [n for n, s in self.namespaces.items() if s["live"]]

    def _pick_object(self, ftc: str | None = None) -> tuple[str, str, str] | None:
        keys = [k for k in self.objects if ftc is None or k[0] == ftc]
        return self.rng.choice(keys) if keys else None

    def _plan_create(self):
        ftc = self.rng.choice(list(KINDS))
        live = self._live_ns()
        ns = self.rng.choice(live) if live else STABLE_NAMESPACES[0]
        name = self._unique(ftc.split(".")[0][:6])
        tmpl, plc = template(self.rng, ftc, name), placement(self.rng, self.names())
        ovr = overrides(self.rng, self.names(), ftc) if self.rng.random() < 0.4 else None
        body = fed_obj("Federated" + KINDS[ftc][4], ns, name, tmpl, plc, ovr)

        def run() -> Answer:
            code, _ = self._req(self.host, "POST", fed_path(ftc, ns), body)
            if self._ok(code) or self._unanswered(code):  # unknown: it may exist
                self.objects[(ftc, ns, name)] = True
            return self._ok(code), code
        return "create", ftc, f"{ns}/{name}", None, run

    def _plan_update_template(self):
        key = self._pick_object()
        if not key:
            return None
        ftc, ns, name = key
        tmpl = template(self.rng, ftc, name)
        return "update-template", ftc, f"{ns}/{name}", None, \
            lambda: self._put_spec(key, lambda spec: spec.__setitem__("template", tmpl))

    def _put_spec(self, key: tuple[str, str, str], change: Callable[[dict], None]) -> Answer:
        """Read-modify-PUT, again after a 409 while the step's budget lasts."""
        ftc, ns, name = key
        start, code = self.clock(), "not tried"
        for _ in range(PUT_ATTEMPTS):
            if self.clock() - start > STEP_BUDGET:
                break
            code, obj = self._req(self.host, "GET", fed_path(ftc, ns, name))
            if code == 404:
                self.objects.pop(key, None)  # gone: an earlier delete did happen
            if code != 200 or not isinstance(obj, dict):
                return False, code
            change(obj.setdefault("spec", {}))
            code, _ = self._req(self.host, "PUT", fed_path(ftc, ns, name), obj)
            if code != 409:
                break
        return self._ok(code), code

    def _patch_spec(self, key: tuple[str, str, str], field: str, value: Any) -> Answer:
        ftc, ns, name = key
        patch = [{"op": "add", "path": f"/spec/{field}", "value": value}]
        code, _ = self._req(self.host, "PATCH", fed_path(ftc, ns, name), patch, "json")
        if code == 404:
            self.objects.pop(key, None)
        return self._ok(code), code

    def _rsp_free(self, key: tuple[str, str, str]) -> bool:
        # an RSP writes its target's placement and overrides: leave those to it
        return key[0] != "deployments.apps" or (key[1], key[2]) not in self.rsps

    def _plan_update_placement(self):
        key = self._pick_object()
        if not key or not self._rsp_free(key):
            return None
        plc = placement(self.rng, self.names())
        return "update-placement", key[0], f"{key[1]}/{key[2]}", None, \
            lambda: self._patch_spec(key, "placement", plc)

    def _plan_update_overrides(self):
        key = self._pick_object()
        if not key or not self._rsp_free(key):
            return None
        ovr = overrides(self.rng, self.names(), key[0])
        return "update-overrides", key[0], f"{key[1]}/{key[2]}", None, \
            lambda: self._patch_spec(key, "overrides", ovr)

    def _plan_delete(self, orphan: bool = False):
        key = self._pick_object()
        if not key:
            return None
        ftc, ns, name = key
        return ("delete-orphan" if orphan else "delete"), ftc, f"{ns}/{name}", None, \
            lambda: self._delete(self.host, fed_path(ftc, ns, name), (ftc, ns, name), orphan,
                                 lambda: self.objects.pop(key, None))

    def _plan_delete_orphan(self):
        return self._plan_delete(orphan=True)

    def _delete(self, kube: Any, path: str, ident: tuple[str, str, str], orphan: bool,
                forget: Callable[[], Any]) -> Answer:
        """Delete, orphaning when asked: the ledger gets the object before anything is
        written and keeps it whatever the answers (an annotated object stays so)."""
        if orphan:
            self._ledger(*ident)
            patch = {"metadata": {"annotations": {ORPHAN: "true"}}}
            code, _ = self._req(kube, "PATCH", path, patch, "merge")
            if not self._ok(code):
                if code == 404:
                    forget()
                return False, code
        code, _ = self._req(kube, "DELETE", path)
        if self._ok(code) or code == 404:
            forget()
        return self._ok(code), code

    # ---- namespaces ----------------------------------------------------------
    def _plan_ns_create(self):
        ns = self._unique("chaos-e")
        names = self.ns_members or self.names()
        # fixed for the namespace's life: a member without a namespace controller
        # keeps a removed namespace Terminating, so it must never be placed again
        picked = sorted(self.rng.sample(names, self.rng.randint(1, len(names))))
        fns = fed_obj("FederatedNamespace", ns, ns, {"metadata": {"labels": labels(self.rng)}},
                      {"clusters": [{"name": n} for n in picked]})

        def run() -> Answer:
            code, _ = self._req(self.host, "POST", kpath("", "v1", "namespaces"),
                                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            if not (self._ok(code) or code == 409):
                return False, code
            code, _ = self._req(self.host, "POST", fed_path(NS_TYPE, ns), fns)
            if self._ok(code) or self._unanswered(code):
                self.namespaces[ns] = {"stable": False, "live": True}
            return self._ok(code), code
        return "ns-create", NS_TYPE, f"{ns}/{ns}", None, run

    def _plan_ns_update(self):
        live = self._live_ns()
        if not live:
            return None
        ns = self.rng.choice(live)
        patch = [{"op": "add", "path": "/spec/template",
                  "value": {"metadata": {"labels": labels(self.rng)}}}]

        def run() -> Answer:
            code, _ = self._req(self.host, "PATCH", fed_path(NS_TYPE, ns, ns), patch, "json")
            return self._ok(code), code
        return "ns-update", NS_TYPE, f"{ns}/{ns}", None, run

    def _plan_ns_delete(self, orphan: bool = False):
        eph = [n for n in self._live_ns() if not self.namespaces[n]["stable"]]
        if not eph:
            return None
        ns = self.rng.choice(eph)

        def forget() -> None:
            self.namespaces[ns]["live"] = False  # its host namespace and objects stay
        return ("ns-delete-orphan" if orphan else "ns-delete"), NS_TYPE, f"{ns}/{ns}", None, \
            lambda: self._delete(self.host, fed_path(NS_TYPE, ns, ns), (NS_TYPE, ns, ns),
                                 orphan, forget)

    def _plan_ns_delete_orphan(self):
        return self._plan_ns_delete(orphan=True)

    # ---- RSPs ------------------------------------------------------------------
    def _plan_rsp_create(self):
        free = [k for k in self.objects
                if k[0] == "deployments.apps" and (k[1], k[2]) not in self.rsps]
        if not free:
            return None
        _, ns, name = self.rng.choice(free)
        body = {"apiVersion": "scheduling.kubefed.io/v1alpha1",
                "kind": "ReplicaSchedulingPreference",
                "metadata": {"name": name, "namespace": ns},
                "spec": rsp_spec(self.rng, self.ns_members or self.names(), star=not self.ns_members)}

        def run() -> Answer:
            code, _ = self._req(self.host, "POST", rsp_path(ns), body)
            if self._ok(code) or self._unanswered(code):
                self.rsps[(ns, name)] = True
            return self._ok(code), code
        return "rsp-create", RSP_TYPE, f"{ns}/{name}", None, run

    def _plan_rsp_update(self):
        if not self.rsps:
            return None
        ns, name = self.rng.choice(list(self.rsps))
        patch = [{"op": "add", "path": "/spec", "value": rsp_spec(self.rng, self.ns_members or self.names(), star=not self.ns_members)}]

        def run() -> Answer:
            code, _ = self._req(self.host, "PATCH", rsp_path(ns, name), patch, "json")
            if code == 404:
                self.rsps.pop((ns, name), None)
            return self._ok(code), code
        return "rsp-update", RSP_TYPE, f"{ns}/{name}", None, run

    def _plan_rsp_delete(self):
        if not self.rsps:
            return None
        ns, name = self.rng.choice(list(self.rsps))

        def run() -> Answer:
            code, _ = self._req(self.host, "DELETE", rsp_path(ns, name))
            if self._ok(code) or code == 404:
                self.rsps.pop((ns, name), None)
            return self._ok(code), code
        return "rsp-delete", RSP_TYPE, f"{ns}/{name}", None, run

    # ---- membership and cluster labels ---------------------------------------------
    def _fedctl(self, args: list[str]) -> Answer:
        rc, _ = self.fedctl(args)
        return rc == 0, rc

    def _plan_join(self):
        # --wait 0: the step must not wait for Ready (the checker's settle does)
        args = ["join", self.fifth, "--cluster-context", self.fifth, "--wait", "0"]
        return "join", KFC_TYPE, self.fifth, self.fifth, lambda: self._fedctl(args)

    def _plan_unjoin(self):
        # --orphan: the copies stay (unlabelled) and a later join adopts them;
        # removing namespaces from a member without kcm would leave them
        # Terminating, and the stable namespaces are placed there again
        args = ["delete", self.fifth, "--cluster-context", self.fifth, "--orphan",
                "--wait", "15s"]
        return "unjoin", KFC_TYPE, self.fifth, self.fifth, lambda: self._fedctl(args)

    def _plan_label(self):
        cluster = self.rng.choice(self.names())
        labels = {"region": self.rng.choice(["eu", "us", None]),
                  "tier": self.rng.choice(["gold", None])}
        path = kpath("core.kubefed.io", "v1beta1", "kubefedclusters", FED_NS, cluster)

        def run() -> Answer:
            code, _ = self._req(self.host, "PATCH", path, {"metadata": {"labels": labels}},
                                "merge")
            return self._ok(code), code
        return "label", KFC_TYPE, f"{FED_NS}/{cluster}", cluster, run

    # ---- drift -------------------------------------------------------------------
    def _plan_drift(self, delete: bool):
        cluster = self.rng.choice(self.names())
        # deleting a namespace copy would leave it Terminating in a member without kcm
        ftc = self.rng.choice(list(KINDS) + ([] if delete else [NS_TYPE]))
        u, mark = self.rng.random(), f"drift-{self.rng.randrange(1000)}"
        _, group, version, plural, _ = NS_TARGET if ftc == NS_TYPE else KINDS[ftc]
        kube = self.members[cluster]

        def run() -> Answer:
            # the one op that reads a server to choose: the list may differ between
            # runs of one seed, so the object picked (not the stream) may differ
            code, body = self._req(kube, "GET", kpath(group, version, plural) +
                                   f"?labelSelector={MANAGED_SELECTOR}&limit=500")
            if code != 200 or not isinstance(body, dict):
                return False, code
            items = sorted((i for i in body.get("items") or []
                            if (i.get("metadata", {}).get("labels") or {})
                            .get("kubefed.io/managed") == "true"),
                           key=lambda i: (i["metadata"].get("namespace", ""),
                                          i["metadata"]["name"]))
            if not items:
                return False, "no managed copy"
            item = items[int(u * len(items))]
            m = item["metadata"]
            target = kpath(group, version, plural, m.get("namespace"), m["name"])
            obj = f"{m.get('namespace', '')}/{m['name']}"
            if delete:
                code, _ = self._req(kube, "DELETE", target)
            else:
                code, _ = self._req(kube, "PATCH", target, drift_patch(ftc, item, mark),
                                    "merge")
            return self._ok(code), code, obj
        return ("drift-delete" if delete else "drift-edit"), ftc, "", cluster, run

    def _plan_drift_edit(self):
        return self._plan_drift(delete=False)

    def _plan_drift_delete(self):
        return self._plan_drift(delete=True)
