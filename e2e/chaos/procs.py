"""Supervised processes: what a Deployment's restart loop does for the
controllers and agents, plus the record of every exit the harness did not
cause (a crash is a violation, whatever else converged)."""

import os
import signal
import subprocess
import threading
import time


class Proc:
    def __init__(self, name, argv, log, env=None, restart=True, restart_delay=(1.0, 3.0), rng=None,
                 exit_markers=()):
        self.name = name
        self.exit_markers = exit_markers
        self.argv = argv
        self.logpath = log
        self.env = env
        self.restart = restart
        self.restart_delay = restart_delay
        self.rng = rng
        self.p = None
        self.expected = False  # the harness signalled it
        self.starts = 0
        self.next_start = None
        self.lock = threading.Lock()

    def start(self):
        with self.lock:
            env = dict(os.environ)
            env.update(self.env or {})
            log = open(self.logpath, "ab")
            log.write(b"==== chaos: start %d at %.3f\n" % (self.starts, time.time()))
            log.flush()
            self.p = subprocess.Popen(self.argv, stdout=log, stderr=log, env=env,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
            self.starts += 1
            self.expected = False
            self.next_start = None
            self.started_at = time.time()

    @property
    def pid(self):
        return self.p.pid if self.p else None

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def signal(self, sig):
        """Signal it as a fault: its exit is expected (and restarted)."""
        with self.lock:
            if not self.alive():
                return False
            self.expected = True
            try:
                os.kill(self.p.pid, sig)
            except ProcessLookupError:
                return False
            return True

    def stop(self, timeout=10):
        """Stop it for good (no restart)."""
        self.restart = False
        if self.alive():
            self.expected = True
            try:
                os.kill(self.p.pid, signal.SIGTERM)
                self.p.wait(timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.kill(self.p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait()

    def log_tail(self, n=20, size=16384):
        try:
            with open(self.logpath, "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - size))
                return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""


class Supervisor:
    """Restarts dead processes after a short delay; records unexpected exits."""

    def __init__(self, record):
        self.procs = []
        self.record = record
        self.crashes = []
        self.planned_exits = 0
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self.run, name="supervisor", daemon=True)

    def add(self, p):
        self.procs.append(p)
        return p

    def run(self):
        while not self.stop_ev.wait(0.1):
            for p in self.procs:
                self.tick(p)

    def tick(self, p):
        if p.p is None or p.alive():
            return
        if p.next_start is None:
            rc = p.p.returncode
            # its shutdown logs a line per informer after the reason
            tail = p.log_tail(600, 262144)
            if tail.rfind("==== chaos: start") >= 0:  # this start's lines only
                tail = tail[tail.rfind("==== chaos: start"):]
            if not p.expected and any(m in tail for m in p.exit_markers):
                # a documented exit (a leader that lost its Lease exits, as
                # client-go's do, and its Deployment starts it again)
                self.record({"t": time.time(), "event": "exit", "proc": p.name, "rc": rc,
                             "why": next(m for m in p.exit_markers if m in tail)})
                self.planned_exits += 1
            elif not p.expected:
                crash = {"t": time.time(), "proc": p.name, "rc": rc, "log": p.log_tail()}
                self.crashes.append(crash)
                self.record({"t": crash["t"], "event": "crash", "proc": p.name, "rc": rc})
            else:
                self.record({"t": time.time(), "event": "exit", "proc": p.name, "rc": rc})
            if not p.restart:
                p.next_start = float("inf")
                return
            lo, hi = p.restart_delay
            p.next_start = time.time() + (p.rng.uniform(lo, hi) if p.rng else lo)
        if time.time() >= p.next_start:
            p.start()
            self.record({"t": time.time(), "event": "restart", "proc": p.name, "pid": p.pid})

    def ensure_all(self, timeout=15):
        """Every restartable process running again (the end of a round):
        their pending restarts are due now; the supervisor thread starts
        them (only it starts processes, so none starts twice)."""
        end = time.time() + timeout
        while time.time() < end:
            dead = [p for p in self.procs if p.restart and not p.alive()]
            if not dead:
                return True
            for p in dead:
                if p.next_start is not None:
                    p.next_start = 0
            time.sleep(0.1)
        return False

    def start(self):
        self.thread.start()

    def shutdown(self):
        self.stop_ev.set()
        if self.thread.is_alive():
            self.thread.join()
        for p in self.procs:
            p.stop()
