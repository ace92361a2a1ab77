/* A client's exec credential plugin, run without blocking the loop: the
 * plugin's stdout is watched with an ev_io and its exit with an ev_child
 * (a short waitpid poll on loops other than the default, which alone gets
 * SIGCHLD), under a deadline. While it runs, the client's queued calls are
 * held (fed_kube_pump asks fed_kube_exec_ready first); when it answers,
 * they start with the new credential, and if it fails, the calls that were
 * waiting for it fail with its error. The credential is kept until its
 * expirationTimestamp; a 401 drops it once (kube_call.c), so at most one
 * plugin runs per client at a time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "fed/log.h"
#include "kube_internal.h"

#define EXEC_TIMEOUT_S     30.0
#define EXEC_EXPIRY_MARGIN 10   /* seconds: refresh a little before expiry */
#define EXEC_REAP_POLL     0.01 /* seconds, on loops without ev_child */

bool fed_kube_exec_fresh(const struct fed_kube_client *c)
{
	return c->have_exec_cred &&
	       (!c->exec_cred.expires || time(NULL) + EXEC_EXPIRY_MARGIN < c->exec_cred.expires);
}

static void stop_watchers(struct fed_kube_client *c)
{
	ev_io_stop(c->loop, &c->exec_io);
	ev_child_stop(c->loop, &c->exec_child);
	ev_timer_stop(c->loop, &c->exec_deadline);
	ev_timer_stop(c->loop, &c->exec_poll);
}

void fed_kube_exec_stop(struct fed_kube_client *c)
{
	stop_watchers(c);
	fed_exec_run_free(c->exec_run); /* kills a plugin still running */
	c->exec_run = NULL;
	fed_error_clear(&c->exec_err);
}

/* The plugin is done, with a credential or with c->exec_err: free it, then
 * start the held calls, or fail those that waited for it. */
static void done(struct fed_kube_client *c, bool ok)
{
	unsigned long upto = c->seq;

	stop_watchers(c);
	fed_exec_run_free(c->exec_run);
	c->exec_run = NULL;
	fed_kube_dispatch_begin(c);
	if (ok) {
		FED_LOG_DEBUG(c->name, "exec credential plugin answered");
	} else {
		FED_LOG_WARN(c->name, "%s", c->exec_err.msg);
		/* the calls queued so far waited for this run: fail them (a
		 * callback may cancel or queue others, so look again each time) */
		for (;;) {
			struct fed_kube_call *call = c->queue_head;
			struct fed_kube_response resp;

			while (call && call->seq > upto)
				call = call->next;
			if (!call || fed_kube_client_closing(c))
				break;
			memset(&resp, 0, sizeof(resp));
			resp.err = c->exec_err;
			fed_kube_call_finish(call, &resp);
		}
	}
	fed_error_clear(&c->exec_err);
	if (!fed_kube_client_closing(c))
		fed_kube_pump(c); /* calls queued since then run it again */
	fed_kube_dispatch_end(c);
}

static void finish(struct fed_kube_client *c, int status, bool known)
{
	struct fed_exec_credential cred;

	if (fed_exec_run_finish(c->exec_run, status, known, &cred, &c->exec_err)) {
		done(c, false);
		return;
	}
	fed_exec_credential_release(&c->exec_cred);
	c->exec_cred = cred;
	c->have_exec_cred = true;
	c->exec_gen++;
	done(c, true);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fed_kube_client *c = w->data;
	int r = fed_exec_run_read(c->exec_run, &c->exec_err);

	if (r < 0) {
		done(c, false);
		return;
	}
	if (r == 0)
		return;
	ev_io_stop(loop, w);
	c->exec_eof = true;
	if (c->exec_exited)
		finish(c, c->exec_status, true);
	else if (!ev_is_active(&c->exec_child))
		ev_timer_start(loop, &c->exec_poll);
}

static void child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct fed_kube_client *c = w->data;

	ev_child_stop(loop, w);
	c->exec_exited = true;
	c->exec_status = w->rstatus;
	if (c->exec_eof)
		finish(c, c->exec_status, true);
	/* else its stdout (perhaps held open by a grandchild) ends it */
}

static void poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fed_kube_client *c = w->data;
	int status = 0;
	pid_t pid = fed_exec_run_pid(c->exec_run);
	pid_t r = waitpid(pid, &status, WNOHANG);

	if (r == pid)
		finish(c, status, true);
	else if (r < 0 && errno != EINTR)
		finish(c, 0, false); /* reaped elsewhere: judge by the output */
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fed_kube_client *c = w->data;

	fed_exec_run_timeout(c->exec_run, EXEC_TIMEOUT_S, &c->exec_err);
	done(c, false);
}

static void start_failed_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	done(w->data, false);
}

bool fed_kube_exec_ready(struct fed_kube_client *c)
{
	if (!c->cfg.exec || fed_kube_exec_fresh(c))
		return true;
	if (c->exec_run || ev_is_active(&c->exec_deadline))
		return false; /* one run at a time; the calls wait for it */
	fed_exec_credential_release(&c->exec_cred);
	c->have_exec_cred = false;
	c->exec_eof = c->exec_exited = false;
	ev_init(&c->exec_deadline, deadline_cb);
	c->exec_deadline.data = c;
	FED_LOG_DEBUG(c->name, "running exec credential plugin %s", c->cfg.exec->command);
	if (fed_exec_run_start(&c->cfg, &c->exec_run, &c->exec_err)) {
		/* failed before it ran (not found, ...): fail the held calls
		 * from the loop, not from inside the pump that asked */
		ev_init(&c->exec_deadline, start_failed_cb);
		ev_timer_set(&c->exec_deadline, 0., 0.);
		ev_timer_start(c->loop, &c->exec_deadline);
		return false;
	}
	ev_io_init(&c->exec_io, io_cb, fed_exec_run_fd(c->exec_run), EV_READ);
	c->exec_io.data = c;
	ev_io_start(c->loop, &c->exec_io);
	ev_init(&c->exec_poll, poll_cb);
	ev_timer_set(&c->exec_poll, EXEC_REAP_POLL, EXEC_REAP_POLL);
	c->exec_poll.data = c;
	ev_init(&c->exec_child, child_cb);
	c->exec_child.data = c;
	if (ev_is_default_loop(c->loop)) {
		/* started before the loop runs again: libev's SIGCHLD handler
		 * reaps it then and hands us the status */
		ev_child_set(&c->exec_child, fed_exec_run_pid(c->exec_run), 0);
		ev_child_start(c->loop, &c->exec_child);
	}
	ev_timer_set(&c->exec_deadline, EXEC_TIMEOUT_S, 0.);
	ev_timer_start(c->loop, &c->exec_deadline);
	return false;
}
