"""The federation the chaos run works on, built from real processes.

Host and member1/member2 are the e2e fixture's clusters (or our own when run
by hand); cw is a direct member with workloads reached through a relay;
agent1 and agent2 live in network namespaces of their own, their agents
dial the tunnel through a relay and through tinyproxy. Two controller
replicas elect a leader on a short Lease. Everything started here is torn
down in down(), whatever failed.
"""

import base64
import os
import socket
import subprocess
import time

from kube import Kube, path
from procs import Proc
from relay import Relay

FNS = "kube-federation-system"
LEASE = "fed-chaos"
LEASE_TIMES = (4.0, 3.0, 1.0)  # duration, renew deadline, retry period


def free_port():
    s = socket.socket()
    s.bind(("", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def run(argv, timeout=300, check=True, env=None, input=None):
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=e, input=input)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv[:4]), r.returncode,
                                                 (r.stderr or r.stdout)[-2000:]))
    return r


class Netns:
    """A network namespace joined to ours by one veth pair in 198.18.0.0/15."""

    def __init__(self, name, index):
        self.name = name
        self.vh, self.vm = "fc%d%sh" % (os.getpid() % 10000, index), "fc%d%sm" % (os.getpid() % 10000, index)
        net = "198.18.%d" % ((os.getpid() >> 6) & 255)
        base = ((os.getpid() & 15) * 4 + index) * 4
        self.host_ip, self.member_ip = "%s.%d" % (net, base + 1), "%s.%d" % (net, base + 2)

    def up(self):
        ns = ["ip", "netns", "exec", self.name]
        run(["ip", "netns", "add", self.name])
        run(["ip", "link", "add", self.vh, "type", "veth", "peer", "name", self.vm])
        run(["ip", "link", "set", self.vm, "netns", self.name])
        run(["ip", "addr", "add", self.host_ip + "/30", "dev", self.vh])
        run(["ip", "link", "set", self.vh, "up"])
        run(ns + ["ip", "link", "set", "lo", "up"])
        run(ns + ["ip", "addr", "add", self.member_ip + "/30", "dev", self.vm])
        run(ns + ["ip", "link", "set", self.vm, "up"])
        run(ns + ["ip", "route", "add", "default", "via", self.host_ip])

    def link(self, up):
        run(["ip", "link", "set", self.vh, "up" if up else "down"], check=False)

    def down(self):
        run(["ip", "netns", "del", self.name], check=False)
        run(["ip", "link", "del", self.vh], check=False)


class Topology:
    def __init__(self, root, work, bin_dir, rng, record, fixture_state=None, asan=False):
        self.root, self.work, self.bin = root, work, bin_dir
        self.rng, self.record = rng, record
        self.lc = os.path.join(root, "e2e", "local-clusters")
        self.own_fixture = fixture_state is None
        self.fix = fixture_state or os.path.join(work, "fixture")
        self.K = os.path.join(self.fix, "kubeconfig")
        self.netns = {}
        self.state = {}      # cluster -> local-clusters state dir
        self.relays = {}
        self.procs = []      # controllers, agents, proxy (the supervisor's)
        self.controllers = []
        self.agents = {}
        self.proxy = None
        self.kubes = {}
        self.direct = ["member1", "member2"]
        self.agent_members = ["agent1", "agent2"]
        # the fifth member comes and goes: fedctl delete removes its
        # namespace, which only a namespace controller (--workloads) finishes
        self.fifth = "cw"
        self.with_kcm = ["agent1", "agent2", "cw"]
        self.tport = free_port()
        self.asan = asan

    # ---- clusters ------------------------------------------------------
    def lc_argv(self, cluster, *args):
        ns = self.netns.get(cluster)
        pre = ["ip", "netns", "exec", ns.name] if ns else []
        return pre + [self.lc] + list(args) + ["--state-dir", self.state.get(cluster, self.fix), cluster]

    def clusters_up(self):
        for c in ("host", "member1", "member2", "cw"):
            self.state[c] = self.fix
        if self.own_fixture:
            run([self.lc, "up", "--state-dir", self.fix, "host", "member1", "member2"], timeout=600)
        for i, c in enumerate(self.agent_members):
            self.netns[c] = Netns("fedchaos-%d-%s" % (os.getpid(), c), i)
            self.netns[c].up()
            self.state[c] = os.path.join(self.work, c)
        # the three start together: each waits for its apiserver
        ps = [subprocess.Popen(self.lc_argv("cw", "up", "--workloads"), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True),
              subprocess.Popen(self.lc_argv("agent1", "up", "--workloads"), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True),
              subprocess.Popen(self.lc_argv("agent2", "up", "--workloads"), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)]
        for p in ps:
            out, _ = p.communicate(timeout=600)
            if p.returncode != 0:
                raise RuntimeError("local-clusters up failed: " + out[-2000:])
        self.kubes["host"] = Kube(self.K, "host")
        for c in ("member1", "member2", "cw"):
            self.kubes[c] = Kube(self.K, c)
        for c in self.agent_members:
            self.kubes[c] = Kube(os.path.join(self.state[c], "kubeconfig"), c, netns=self.netns[c].name)

    def server_port(self, cluster):
        with open(os.path.join(self.state[cluster], cluster, "port")) as f:
            return int(f.read().strip())

    def etcd_url(self, cluster):
        with open(os.path.join(self.state[cluster], "etcd", "client-port")) as f:
            return "http://127.0.0.1:%s" % f.read().strip()

    def host_kube(self):
        return self.kubes["host"]

    def members(self):
        return {c: self.kubes[c] for c in self.direct + self.agent_members + [self.fifth]}

    # ---- fed -----------------------------------------------------------
    def lib(self, script, timeout=300):
        """A function of e2e/lib.sh, with our kubeconfig."""
        return run(["bash", "-c", "set -euo pipefail; . \"$root/e2e/lib.sh\"; " + script],
                   env={"root": self.root, "K": self.K, "work": self.work,
                        "FED_BIN_DIR": self.bin}, timeout=timeout)

    def fedctl(self, args, timeout=180):
        r = run([os.path.join(self.bin, "fedctl"), "--kubeconfig", self.K,
                 "--host-cluster-context", "host"] + list(args), timeout=timeout, check=False)
        return r.returncode, (r.stdout + r.stderr)[-4000:]

    def controller_argv(self):
        d, r, p = LEASE_TIMES
        sans = ",".join("IP:" + n.host_ip for n in self.netns.values()) + ",IP:127.0.0.1"
        return [os.path.join(self.bin, "fed-controller"), "--kubeconfig", self.K, "--context", "host",
                "--client-ip", "127.0.0.1", "--metrics-address", "127.0.0.1:0",
                "--leader-elect-lease-name", LEASE, "--leader-elect-lease-duration", str(d),
                "--leader-elect-renew-deadline", str(r), "--leader-elect-retry-period", str(p),
                "--tunnel-address", "0.0.0.0:%d" % self.tport, "--tunnel-sans", sans,
                "--tunnel-heartbeat", "2", "--tunnel-label-pod=false", "--health-period", "2", "--health-timeout", "2",
                "--failure-threshold", "3", "--rsp-offline-grace", "10", "--log-level", "debug"]

    def fed_up(self, supervisor):
        self.lib("fed_install_local; fed_reset; "
                 "k -n kube-federation-system delete lease %s --ignore-not-found >/dev/null" % LEASE)
        self.relays["member2"] = Relay("127.0.0.1", ("127.0.0.1", self.server_port("member2")), name="member2")
        self.relays["agent1"] = Relay(self.netns["agent1"].host_ip, ("127.0.0.1", self.tport), name="agent1")
        for r in self.relays.values():
            r.start()
        for i in range(2):
            p = Proc("controller-%d" % i, self.controller_argv(), os.path.join(self.work, "controller-%d.log" % i),
                     rng=self.rng, exit_markers=("lost the leader Lease: exiting",))
            self.controllers.append(supervisor.add(p))
            p.start()
        self.start_proxy(supervisor)
        rc, out = self.fedctl(["join", "member1", "--cluster-context", "member1", "--wait", "3m"])
        if rc:
            raise RuntimeError("join member1: " + out)
        rc, out = self.fedctl(["join", "member2", "--cluster-context", "member2", "--client-cidr",
                               "0.0.0.0/0=https://127.0.0.1:%d" % self.relays["member2"].port, "--wait", "3m"])
        if rc:
            raise RuntimeError("join member2: " + out)
        # the leader writes the tunnel certificate agent joins hand out
        end = time.time() + 120
        while not (self.kubes["host"].get(path("", "v1", "secrets", "kube-system", "fed-tunnel")) or {}).get(
                "data", {}).get("tls.crt"):
            if time.time() > end:
                raise RuntimeError("no tunnel certificate in kube-system/fed-tunnel after 120 s")
            time.sleep(0.5)
        for c in self.agent_members:
            self.join_agent(c, supervisor)
        self.wait_ready(self.direct + self.agent_members, 180)

    def start_proxy(self, supervisor):
        ns = self.netns["agent2"]
        self.pport = free_port()
        conf = os.path.join(self.work, "tinyproxy.conf")
        with open(conf, "w") as f:
            f.write("User nobody\nGroup nogroup\nPort %d\nListen %s\nTimeout 600\n"
                    "Allow 198.18.0.0/15\nConnectPort %d\nMaxClients 50\nLogLevel Info\n"
                    % (self.pport, ns.host_ip, self.tport))
        self.proxy = supervisor.add(Proc("tinyproxy", ["tinyproxy", "-d", "-c", conf],
                                         os.path.join(self.work, "tinyproxy.log"), rng=self.rng))
        self.proxy.start()

    def kctl(self, cluster, *args, input=None):
        ns = self.netns.get(cluster)
        pre = ["ip", "netns", "exec", ns.name] if ns else []
        kc = os.path.join(self.state[cluster], "kubeconfig") if ns else self.K
        return run(pre + ["kubectl", "--kubeconfig", kc, "--context", cluster] + list(args), input=input)

    def join_agent(self, c, supervisor):
        ns = self.netns[c]
        out = os.path.join(self.work, c + "-agent.yaml")
        if c == "agent1":
            extra = ["--host-address", "%s:%d" % (ns.host_ip, self.relays[c].port)]
            env = {"POD_NAMESPACE": FNS}
        else:
            # through the proxy to the tunnel on the host's loopback, which
            # the namespace's own 127.0.0.1 is not: only tinyproxy gets there
            extra = ["--host-address", "127.0.0.1:%d" % self.tport]
            env = {"POD_NAMESPACE": FNS, "HTTPS_PROXY": "http://%s:%d" % (ns.host_ip, self.pport),
                   "NO_PROXY": "localhost,.svc"}
        rc, o = self.fedctl(["join", c, "--mode", "agent", "-o", out] + extra)
        if rc:
            raise RuntimeError("join %s: %s" % (c, o))
        self.kctl(c, "create", "-f", out)
        pod = os.path.join(self.work, c + "-pod")
        os.makedirs(pod, exist_ok=True)
        k = self.kubes[c]
        sec = k.get(path("", "v1", "secrets", FNS, "fed-agent"))
        for key in ("token", "ca.crt"):
            fd = os.open(os.path.join(pod, key), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(base64.b64decode(sec["data"][key]))
        tok = self.kctl(c, "-n", FNS, "create", "token", "fed-agent", "--duration=12h").stdout.strip()
        tokfile = os.path.join(pod, "sa-token")
        fd = os.open(tokfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(tok)
        ca = self.kctl(c, "config", "view", "--raw", "-o",
                       "jsonpath={.clusters[?(@.name==\"%s\")].cluster.certificate-authority-data}" % c).stdout
        server = open(os.path.join(self.state[c], c, "server")).read().strip()
        kc = os.path.join(pod, "kubeconfig")
        with open(kc, "w") as f:
            f.write("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"%s\", "
                    "certificate-authority-data: %s}\nusers:\n- name: u\n  user: {tokenFile: %s}\n"
                    "contexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n"
                    % (server, ca, tokfile))
        dep = k.get(path("apps", "v1", "deployments", FNS, "fed-agent"))
        args = [a.replace("/etc/fed-agent", pod) for a in dep["spec"]["template"]["spec"]["containers"][0]["args"]]
        argv = ["ip", "netns", "exec", ns.name, os.path.join(self.bin, "fed-agent")] + args + [
            "--kubeconfig", kc, "--heartbeat", "2", "--max-backoff", "4"]
        p = supervisor.add(Proc("agent-" + c, argv, os.path.join(self.work, "agent-%s.log" % c), env=env,
                                rng=self.rng))
        self.agents[c] = p
        p.start()

    def apply_roles(self, role_dir):
        """fedctl enable cannot reach agent members from the host: apply
        the roles it wrote for them, as their admins would."""
        for c in self.agent_members:
            f = os.path.join(role_dir, "fed-member-role-%s.yaml" % c)
            if os.path.exists(f):
                self.kctl(c, "apply", "-f", f)

    def ready(self, c):
        try:
            kfc = self.kubes["host"].get(path("core.kubefed.io", "v1beta1", "kubefedclusters", FNS, c))
        except Exception:
            return False
        for cond in ((kfc or {}).get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Ready":
                return cond.get("status") == "True"
        return False

    def wait_ready(self, clusters, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if all(self.ready(c) for c in clusters):
                return
            time.sleep(0.5)
        raise RuntimeError("not Ready after %ds: %s" % (timeout, [c for c in clusters if not self.ready(c)]))

    def leader(self):
        """(holderIdentity, renewTime) of the Lease, None when unknown."""
        lease = self.kubes["host"].get(path("coordination.k8s.io", "v1", "leases", FNS, LEASE))
        spec = (lease or {}).get("spec") or {}
        return spec.get("holderIdentity")

    # ---- teardown ------------------------------------------------------
    def host_leftovers(self):
        """(path, object) of every federated object and RSP the run left in
        the host's chaos-* namespaces."""
        h = self.kubes["host"]
        paths = []
        for ftc in h.list(path("core.kubefed.io", "v1beta1", "federatedtypeconfigs", FNS)):
            f = ftc["spec"]["federatedType"]
            paths.append(path(f["group"], f["version"], f["pluralName"]))
        paths.append(path("scheduling.kubefed.io", "v1alpha1", "replicaschedulingpreferences"))
        out = []
        for p in paths:
            for o in h.list(p):
                m = o["metadata"]
                if m.get("namespace", "").startswith("chaos-"):
                    base = p.rsplit("/", 1)
                    out.append(("%s/namespaces/%s/%s/%s" % (base[0], m["namespace"], base[1], m["name"]), o))
        return out

    def clean_host(self, supervisor):
        """Leave the shared fixture as the other tests expect it: the run's
        federated objects deleted while the controllers still run (they
        take the copies off and drop their finalizers), the members
        unjoined with fedctl (which removes what is left in them), then
        whatever still holds a finalizer released, the namespaces, the
        custom type and the Federation gone."""
        h = self.kubes["host"]
        for p, _ in self.host_leftovers():
            h.delete(p)
        end = time.time() + 60
        while time.time() < end and self.host_leftovers():
            time.sleep(1)
        for c in self.direct + [self.fifth]:
            self.fedctl(["delete", c, "--wait", "20s"], timeout=120)
        supervisor.shutdown()
        for p, _ in self.host_leftovers():
            h.patch(p, {"metadata": {"finalizers": None}})
            h.delete(p)
        self.lib("fed_unfederate; k -n kube-federation-system delete lease %s --ignore-not-found; "
                 "k -n kube-federation-system delete federatedtypeconfig widgets.chaos.fed.io --ignore-not-found; "
                 "k delete crd federatedwidgets.types.kubefed.io --ignore-not-found --wait=false; "
                 "for c in host member1 member2; do km $c get ns -o name | grep '^namespace/chaos-' | "
                 "xargs -r kubectl --kubeconfig \"$K\" --context $c delete --wait=false || true; "
                 "km $c delete crd widgets.chaos.fed.io --ignore-not-found --wait=false || true; done"
                 % LEASE, timeout=120)
        # no namespace controller runs there: what fedctl delete and we
        # deleted stays Terminating until its finalizer is dropped, and the
        # next test's join needs kube-federation-system again
        for c in ("host", "member1", "member2"):
            k = self.kubes[c]
            for ns in k.list(path("", "v1", "namespaces")):
                n = ns["metadata"]["name"]
                if ns["metadata"].get("deletionTimestamp") and (n.startswith("chaos-") or n == FNS):
                    k.replace(path("", "v1", "namespaces", name=n, sub="finalize"),
                              {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n},
                               "spec": {"finalizers": []}})

    def down(self, supervisor):
        if not self.own_fixture and "host" in self.kubes:
            try:
                self.clean_host(supervisor)
            except Exception as e:  # a cleanup never fails the run
                print("chaos: cleanup: %s" % e, flush=True)
        if supervisor:
            supervisor.shutdown()
        for r in self.relays.values():
            r.stop()
        if not self.own_fixture:
            run(self.lc_argv("cw", "stop"), check=False)
        for c, ns in self.netns.items():
            run(self.lc_argv(c, "down"), check=False, timeout=120)
            ns.down()
        if self.own_fixture:
            run([self.lc, "down", "--state-dir", self.fix], check=False, timeout=120)
