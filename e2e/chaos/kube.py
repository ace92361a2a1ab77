"""A small Kubernetes REST client for the chaos harness.

It reads one context of a kubeconfig (through `kubectl config view`, since
the standard library has no YAML parser) and speaks JSON over HTTPS with a
timeout on every call. With `netns`, its sockets are opened inside that
network namespace (setns on the calling thread, switched back at once), so
the harness reaches members that only exist behind a veth.
"""

import base64
import ctypes
import http.client
import json
import os
import socket
import ssl
import subprocess
import tempfile
import urllib.parse

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class KubeError(Exception):
    """The call got no usable answer: refused, reset, timeout, TLS, or a
    non-2xx status where the method promises an object."""


def path(group, version, plural, namespace=None, name=None, sub=None):
    p = "/api/" + version if not group else "/apis/%s/%s" % (group, version)
    if namespace:
        p += "/namespaces/" + urllib.parse.quote(namespace)
    p += "/" + plural
    if name:
        p += "/" + urllib.parse.quote(name)
    if sub:
        p += "/" + sub
    return p


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


def connect_in(netns, addr, timeout):
    """A TCP connection to addr opened from network namespace netns (None:
    this one). The socket keeps that namespace after we switch back."""
    if not netns:
        return socket.create_connection(addr, timeout=timeout)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + netns, os.O_RDONLY)
    try:
        _setns(target)
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            _setns(own)
    finally:
        os.close(own)
        os.close(target)
    try:
        s.settimeout(timeout)
        s.connect(addr)
    except BaseException:
        s.close()
        raise
    return s


class _Conn(http.client.HTTPSConnection):
    def __init__(self, host, port, netns, **kw):
        super().__init__(host, port, **kw)
        self._netns = netns

    def connect(self):
        sock = connect_in(self._netns, (self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class Kube:
    def __init__(self, kubeconfig, context, netns=None, timeout=10.0):
        self.name = context
        self.netns = netns
        self.timeout = timeout
        cfg = json.loads(
            subprocess.run(
                ["kubectl", "--kubeconfig", kubeconfig, "config", "view", "--raw",
                 "--minify", "--flatten", "--context", context, "-o", "json"],
                check=True, capture_output=True, text=True, timeout=30).stdout)
        cluster = cfg["clusters"][0]["cluster"]
        user = cfg["users"][0]["user"] if cfg.get("users") else {}
        u = urllib.parse.urlsplit(cluster["server"])
        self.host, self.port = u.hostname, u.port or 443
        self.server = cluster["server"]
        ctx = ssl.create_default_context()
        if cluster.get("certificate-authority-data"):
            ctx.load_verify_locations(
                cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        self.token = user.get("token")
        if user.get("client-certificate-data"):
            # ssl wants files; they live only as long as this call
            with tempfile.TemporaryDirectory() as d:
                cert, key = os.path.join(d, "c"), os.path.join(d, "k")
                for f, k in ((cert, "client-certificate-data"), (key, "client-key-data")):
                    fd = os.open(f, os.O_WRONLY | os.O_CREAT, 0o600)
                    with os.fdopen(fd, "wb") as out:
                        out.write(base64.b64decode(user[k]))
                ctx.load_cert_chain(cert, key)
        self.ctx = ctx

    def request(self, method, p, body=None, content_type="application/json", timeout=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        c = _Conn(self.host, self.port, self.netns, context=self.ctx,
                  timeout=timeout or self.timeout)
        try:
            c.request(method, p, body=data, headers=headers)
            r = c.getresponse()
            raw = r.read()
            status = r.status
        except (OSError, http.client.HTTPException, ssl.SSLError) as e:
            raise KubeError("%s %s on %s: %s" % (method, p, self.name, e)) from None
        finally:
            c.close()
        try:
            obj = json.loads(raw) if raw else None
        except ValueError:
            obj = None
        return status, obj

    def _must(self, method, p, status, obj):
        msg = obj.get("message") if isinstance(obj, dict) else None
        raise KubeError("%s %s on %s: %d %s" % (method, p, self.name, status, msg or ""))

    def get(self, p):
        status, obj = self.request("GET", p)
        if status == 404:
            return None
        if status // 100 != 2:
            self._must("GET", p, status, obj)
        return obj

    def list(self, p):
        items, cont = [], None
        while True:
            q = p + ("&" if "?" in p else "?") + "limit=500" + (
                "&continue=" + urllib.parse.quote(cont) if cont else "")
            status, obj = self.request("GET", q)
            if status == 404:
                return []
            if status // 100 != 2 or not isinstance(obj, dict):
                self._must("GET", p, status, obj)
            items += obj.get("items") or []
            cont = (obj.get("metadata") or {}).get("continue")
            if not cont:
                return items

    def create(self, p, obj):
        return self.request("POST", p, obj)

    def replace(self, p, obj):
        return self.request("PUT", p, obj)

    def patch(self, p, obj, kind="merge"):
        ct = {"merge": "application/merge-patch+json",
              "json": "application/json-patch+json",
              "strategic": "application/strategic-merge-patch+json",
              "apply": "application/apply-patch+yaml"}[kind]
        if kind == "apply":
            p += ("&" if "?" in p else "?") + "fieldManager=chaos&force=true"
        return self.request("PATCH", p, obj, content_type=ct)

    def delete(self, p, body=None):
        return self.request("DELETE", p, body)
