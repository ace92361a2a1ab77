#!/usr/bin/env python3
"""The secret scan of the e2e suite (acceptance item 5 of issue 13).

Each e2e test's cleanup calls collect_artifacts (e2e/lib.sh), which copies
its logs and dumps Events, KubeFedClusters, the federated objects' status
and the controllers' /metrics into $FED_E2E_ARTIFACTS/<test>/, and plants
the secrets it can see (kubeconfig tokens and keys, the fed-tunnel
credential key and TLS key, bootstrap tokens, agent credentials, proxy
passwords) in $FED_E2E_ARTIFACTS/secrets. ctest also keeps every test's
own output there (<test>/output.log).

  secret_scan.py plant [--value V] [--whole V] [--file F] [--kubeconfig F]
                       [--k8s-secret-json F]
  secret_scan.py scan      self-check, then every artifact against every
                           planted secret: whole, base64, and any 12-char
                           piece of it; exit 1 listing file:line (masked)
  secret_scan.py selftest  only the self-check

The secrets file stores each value base64-encoded, outside the test dirs,
so that the list itself is never scanned."""
import base64
import binascii
import json
import os
import re
import sys
import tempfile

PIECE = 12  # a leaked piece this long is a leak
PEM_HEAD = 48  # base64 chars of a key's DER that are not secret
MIN = 8  # shorter values are too common to be secrets worth scanning for


def art_dir():
    d = os.environ.get("FED_E2E_ARTIFACTS")
    if not d:
        sys.exit("FED_E2E_ARTIFACTS is not set: run through ctest")
    return d


# ---- planting --------------------------------------------------------------


class Planter:
    def __init__(self):
        self.out = []  # (mode, bytes)

    def add(self, v, whole=False):
        if isinstance(v, str):
            v = v.encode()
        v = v.strip()
        if len(v) < MIN:
            return
        if b"-----BEGIN" in v:
            # only the key material: the armour is common to every PEM
            for body in re.findall(rb"-----BEGIN [^-]+-----(.*?)-----END", v, re.S):
                self.out.append(("pem", re.sub(rb"\s+", b"", body)))
            return
        self.out.append(("whole" if whole else "part", v))

    def kubeconfig(self, text):
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        for key, val in re.findall(
            r"(token|client-key-data|password):\s*['\"]?([^\s'\"]+)", text
        ):
            if key == "client-key-data":
                # base64 of a PEM: whole only (its start is every PEM's)
                self.add(val, whole=True)
                try:
                    self.add(base64.b64decode(val))
                except (binascii.Error, ValueError):
                    pass
            else:
                self.add(val)
        for pem in re.findall(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END", text, re.S):
            self.add(pem)

    def k8s_secret(self, obj):
        if "items" in obj:
            # a list: fed's own Secrets (fed-agent*, fed-member-token, ...)
            for item in obj["items"] or []:
                name = (item.get("metadata") or {}).get("name", "")
                if name.startswith(("fed-", "kubefed-")):
                    self.k8s_secret(item)
            return
        for key, b64 in (obj.get("data") or {}).items():
            try:
                val = base64.b64decode(b64)
            except (binascii.Error, ValueError):
                continue
            if (key.startswith(("bootstrap-", "credential-expiry-")) or key.endswith(".crt")
                    or key == "namespace" or val.strip().isdigit()):
                # "<cluster> <expiry>" (the token is hashed), expiries,
                # certificates, a namespace: not secret
                continue
            if b"kind: Config" in val or b'"kind": "Config"' in val or "kubeconfig" in key:
                self.kubeconfig(val)
                continue
            printable = all(32 <= c < 127 or c in b"\r\n\t" for c in val)
            if printable:
                self.add(val)
            else:
                self.add(binascii.hexlify(val))
            if not b"-----BEGIN" in val:
                self.add(b64)

    def file(self, path):
        try:
            with open(path, "rb") as f:
                data = f.read(1 << 20)
        except OSError:
            return
        if b"kind: Config" in data:
            self.kubeconfig(data)
        else:
            self.add(data)

    def save(self, path):
        old = set()
        if os.path.exists(path):
            with open(path) as f:
                old = set(f.read().split("\n"))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as f:
            for mode, v in self.out:
                line = "%s %s" % (mode, base64.b64encode(v).decode())
                if line not in old:
                    old.add(line)
                    f.write(line + "\n")


def plant(args):
    p = Planter()
    it = iter(args)
    for a in it:
        v = next(it, None)
        if v is None:
            sys.exit("plant: %s needs a value" % a)
        if a == "--value":
            p.add(v)
        elif a == "--whole":
            p.add(v, whole=True)
        elif a == "--file":
            p.file(v)
        elif a == "--kubeconfig":
            try:
                with open(v, "rb") as f:
                    p.kubeconfig(f.read())
            except OSError:
                pass
        elif a == "--k8s-secret-json":
            try:
                with open(v) as f:
                    p.k8s_secret(json.load(f))
            except (OSError, ValueError):
                pass
        else:
            sys.exit("plant: unknown option %s" % a)
    os.makedirs(art_dir(), exist_ok=True)
    p.save(os.path.join(art_dir(), "secrets"))


# ---- scanning --------------------------------------------------------------


def load_secrets(path):
    secrets = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                mode, _, b64 = line.strip().partition(" ")
                if b64:
                    secrets.append((mode, base64.b64decode(b64)))
    return secrets


def patterns(secrets):
    """{pattern: secret number}: each secret whole, its base64 forms and,
    unless it may only match whole, every PIECE-byte piece of it."""
    pats = {}
    for i, (mode, v) in enumerate(secrets):
        forms = [v, base64.b64encode(v), base64.b64encode(v).rstrip(b"="),
                 base64.urlsafe_b64encode(v).rstrip(b"=")]
        for f in forms:
            if len(f) >= MIN:
                pats.setdefault(f, i)
        # the first bytes of a key's DER (version, algorithm, curve) are
        # the same in every key of its kind: pieces start after them
        start = {"part": 0, "pem": PEM_HEAD}.get(mode)
        if start is not None and len(v) > start + PIECE:
            for k in range(start, len(v) - PIECE + 1):
                pats.setdefault(v[k:k + PIECE], i)
    return pats


def scan_lines(lines, pats):
    """(line number, secret number, masked line) for each line holding a pattern."""
    by_head = {}
    short = []
    for p, i in pats.items():
        if len(p) >= PIECE:
            by_head.setdefault(p[:PIECE], []).append((p, i))
        else:
            short.append((p, i))
    for n, line in enumerate(lines, 1):
        hit = None
        for k in range(len(line) - PIECE + 1):
            for p, i in by_head.get(line[k:k + PIECE], ()):
                if line.startswith(p, k):
                    hit = (i, k, len(p))
                    break
            if hit:
                break
        if not hit:
            for p, i in short:
                k = line.find(p)
                if k >= 0:
                    hit = (i, k, len(p))
                    break
        if hit:
            yield n, hit[0], mask_all(line, pats).decode("utf-8", "replace")[:240]


def mask_all(line, pats):
    for p, i in sorted(pats.items(), key=lambda x: -len(x[0])):
        if p in line:
            line = line.replace(p, b"<SECRET#%d>" % i)
    return line


def scan_dir(root, secrets, skip=("secrets",)):
    pats = patterns(secrets)
    hits, files = [], 0
    for dirpath, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            path = os.path.join(dirpath, name)
            if dirpath == root and name in skip:
                continue
            files += 1
            try:
                with open(path, "rb") as f:
                    lines = f.read().split(b"\n")
            except OSError:
                continue
            for n, i, masked in scan_lines(lines, pats):
                hits.append((os.path.relpath(path, root), n, i, masked))
    return hits, files


def selftest():
    """The scan finds a deliberately planted leak in a scratch artifact,
    whole, in base64 and in part, and nothing in a clean one."""
    secret = "S3cr@t-Pa55-planted-" + os.urandom(8).hex()
    key = "LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSUFiY2RlZg=="
    body = base64.b64encode(b"\x30\x81\x87" + os.urandom(120)).decode()
    pem = "-----BEGIN PRIVATE KEY-----\n%s\n%s\n-----END PRIVATE KEY-----\n" % (
        body[:64], body[64:])
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "t"))
        leaks = {
            "whole.log": "info connecting with password %s\n" % secret,
            "b64.yaml": "message: Basic %s\n" % base64.b64encode(secret.encode()).decode(),
            "part.log": "warn cannot resolve %s@127.0.0.1\n" % secret[5:20],
            "pem.log": "debug key %s\n" % body[80:100],
        }
        clean = ("info serving on 127.0.0.1:443\n"
                 "certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n")
        for name, text in leaks.items():
            with open(os.path.join(d, "t", name), "w") as f:
                f.write(clean + text)
        with open(os.path.join(d, "t", "clean.log"), "w") as f:
            f.write(clean)
        p = Planter()
        p.add(secret)
        p.add(key, whole=True)
        p.add(pem)
        hits, _ = scan_dir(d, p.out)
        got = sorted(h[0] for h in hits)
        want = sorted(os.path.join("t", n) for n in leaks)
        if got != want or any(secret[5:20] in h[3] for h in hits):
            print("FAIL: self-check: leaks in %s found %s (masked: %s)"
                  % (want, got, all(secret[5:20] not in h[3] for h in hits)))
            return False
    print("ok: self-check: a planted leak is found whole, in base64, in part and from a PEM key (%d hits, "
          "masked), a clean artifact passes" % len(hits))
    return True


def scan():
    root = art_dir()
    ok = selftest()
    secrets = load_secrets(os.path.join(root, "secrets"))
    tests = sorted(t for t in os.listdir(root) if os.path.isdir(os.path.join(root, t))) \
        if os.path.isdir(root) else []
    if not tests:
        print("FAIL: no artifacts in %s: run this with the e2e tests "
              "(ctest -L e2e, or -R with the tests and zz_secret_scan)" % root)
        return 1
    if not secrets:
        print("FAIL: no planted secrets in %s/secrets: collect_artifacts planted none" % root)
        return 1
    # a shell test whose cleanup does not call collect_artifacts
    for t in tests:
        d = os.path.join(root, t)
        if os.path.exists(os.path.join(d, "shell")) and not os.path.exists(
                os.path.join(d, "collected")):
            print("FAIL: %s: no collect_artifacts (call it from the test's cleanup)" % t)
            ok = False
    hits, files = scan_dir(root, secrets)
    for path, n, i, masked in hits:
        kind = "whole" if secrets[i][0] == "whole" else "piece"
        print("FAIL: %s:%d: planted secret #%d (%s, %d bytes): %s"
              % (path, n, i, kind, len(secrets[i][1]), masked))
    print("%s: %d artifacts of %d tests scanned for %d planted secrets: %d leaks"
          % ("ok" if not hits and ok else "FAIL", files, len(tests), len(secrets), len(hits)))
    return 0 if ok and not hits else 1


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd = sys.argv[1]
    if cmd == "plant":
        plant(sys.argv[2:])
        return 0
    if cmd == "selftest":
        return 0 if selftest() else 1
    if cmd == "scan":
        return scan()
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
