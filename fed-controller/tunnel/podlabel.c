/* The fed.kubefed.io/tunnel label on the controller's own Pod: "leader"
 * while this replica serves the agent tunnel, "standby" otherwise. The
 * fed-tunnel Service selects on it, so agents reach the leader only.
 *
 * The label outlives the process (a container restart keeps the Pod), so a
 * process writes "standby" first, before it campaigns: a restarted ex-leader
 * must not keep attracting agents. Writes are merge patches, one at a time
 * and in order (the last value asked for wins); they touch only this label,
 * which is all manifests/02-rbac.yaml's admission policy lets the
 * ServiceAccount change, on its own Pod only. A failure is logged, never
 * fatal: without the label the tunnel still works wherever agents reach the
 * Pod by other means. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../controller.h"
#include "fed/log.h"
#include "podlabel.h"

#define RETRY_DELAY 2.0 /* seconds before writing again after a transient failure */

struct podlabel {
	struct controller *ctl;
	struct fed_kube_client *client;
	char *ns, *name;
	const char *want;   /* value to reach (string constants) */
	const char *sent;   /* value in flight, NULL when idle */
	const char *have;   /* value last written, NULL if none yet */
	const char *failed; /* value whose failure was already logged as a warning */
	struct fed_kube_call *call;
	ev_timer retry;
	podlabel_done_fn done; /* runs once want was attempted */
	void *done_ud;
};

static const struct fed_kube_resource r_pod = {"", "v1", "pods", true};

static void send_label(struct podlabel *pl);

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void run_done(struct podlabel *pl)
{
	podlabel_done_fn done = pl->done;

	pl->done = NULL;
	if (done)
		done(pl->done_ud);
}

static void log_failure(struct podlabel *pl, const char *value, const struct fed_error *e)
{
	char what[400];

	snprintf(what, sizeof(what), "cannot label pod %s/%s " FED_TUNNEL_LABEL "=%s", pl->ns,
	         pl->name, value);
	if (same(pl->failed, value)) {
		FED_LOG_DEBUG(NULL, "%s: %s", what, e->msg);
		return;
	}
	pl->failed = value;
	if (e->code == FED_EFORBIDDEN)
		FED_LOG_WARN(
		    NULL,
		    "%s: %s. Grant get and patch on pods in namespace %s to the "
		    "controller's ServiceAccount (see manifests/02-rbac.yaml; its policy "
		    "fed-controller-own-pod-label admits only the Pod the token is bound to, "
		    "so run in that Pod with its mounted token), or run with "
		    "--tunnel-label-pod=false; until then the fed-tunnel Service cannot "
		    "tell the leader from the standby",
		    what, e->msg, pl->ns);
	else if (e->code == FED_ENOTFOUND)
		FED_LOG_WARN(
		    NULL,
		    "%s: the pod does not exist: POD_NAME and POD_NAMESPACE must name this "
		    "controller's own Pod (downward API fields metadata.name and "
		    "metadata.namespace)",
		    what);
	else
		FED_LOG_WARN(NULL, "%s: %s", what, e->msg);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	send_label(w->data);
}

static void patched(struct fed_kube_response *resp, void *ud)
{
	struct podlabel *pl = ud;
	const char *value = pl->sent;
	int code = resp->err.code;

	pl->call = NULL;
	pl->sent = NULL;
	if (!code) {
		pl->have = value;
		pl->failed = NULL;
		FED_LOG_INFO(NULL, "pod %s/%s labelled " FED_TUNNEL_LABEL "=%s", pl->ns, pl->name,
		             value);
	} else {
		log_failure(pl, value, &resp->err);
	}
	if (!same(pl->want, value)) {
		send_label(pl); /* asked for another value meanwhile */
		return;
	}
	/* transient: try again (RBAC and a missing Pod need a person) */
	if (code && code != FED_EFORBIDDEN && code != FED_ENOTFOUND && code != FED_EINVALID &&
	    code != FED_EUNAUTHORIZED) {
		ev_timer_set(&pl->retry, RETRY_DELAY, 0.);
		ev_timer_start(pl->ctl->loop, &pl->retry);
	}
	run_done(pl);
}

static void send_label(struct podlabel *pl)
{
	struct fed_kube_ref ref = {&r_pod, pl->ns, pl->name, NULL};
	struct fed_kube_write_opts wo = {FED_MANAGER, false, false};
	struct fed_error err = FED_ERROR_INIT;
	char patch[200];

	ev_timer_stop(pl->ctl->loop, &pl->retry);
	if (pl->sent)
		return; /* patched() sends the latest value when this one is done */
	if (same(pl->have, pl->want)) {
		run_done(pl);
		return;
	}
	snprintf(patch, sizeof(patch),
	         "{\"metadata\":{\"labels\":{\"" FED_TUNNEL_LABEL "\":\"%s\"}}}", pl->want);
	pl->sent = pl->want;
	if (fed_kube_patch(pl->client, &ref, FED_PATCH_MERGE, patch, &wo, patched, pl, &pl->call,
	                   &err) < 0) {
		pl->sent = NULL;
		log_failure(pl, pl->want, &err);
		run_done(pl);
	}
}

int podlabel_new(struct podlabel **out, struct controller *ctl, struct fed_kube_client *client)
{
	const char *name = getenv("POD_NAME"), *ns = getenv("POD_NAMESPACE");
	struct podlabel *pl;

	/* the Services fed-tunnel and fed-connect select the leader by it */
	bool tunnel = ctl->o.tunnel_address && strcmp(ctl->o.tunnel_address, "off");
	bool connect = ctl->o.connect_address && strcmp(ctl->o.connect_address, "off");

	*out = NULL;
	if (!ctl->o.tunnel_label_pod || (!tunnel && !connect))
		return 0;
	if (!name || !*name || !ns || !*ns) {
		FED_LOG_WARN(NULL,
		             "--tunnel-address or --connect-address is set but POD_NAME or "
		             "POD_NAMESPACE is not: this Pod cannot be labelled " FED_TUNNEL_LABEL
		             "=leader, so the fed-tunnel and fed-connect Services cannot select "
		             "the leader. Set both from the downward API, or run with "
		             "--tunnel-label-pod=false");
		return 0;
	}
	pl = calloc(1, sizeof(*pl));
	if (!pl || !(pl->ns = strdup(ns)) || !(pl->name = strdup(name))) {
		podlabel_free(pl);
		return FED_ENOMEM;
	}
	pl->ctl = ctl;
	pl->client = client;
	ev_timer_init(&pl->retry, retry_cb, RETRY_DELAY, 0.);
	pl->retry.data = pl;
	*out = pl;
	return 0;
}

void podlabel_set(struct podlabel *pl, const char *value, podlabel_done_fn done, void *ud)
{
	if (!pl) {
		if (done)
			done(ud);
		return;
	}
	run_done(pl); /* each callback runs exactly once */
	pl->want = value;
	pl->done = done;
	pl->done_ud = ud;
	send_label(pl);
}

const char *podlabel_wanted(const struct podlabel *pl)
{
	return pl ? pl->want : NULL;
}

void podlabel_free(struct podlabel *pl)
{
	if (!pl)
		return;
	if (pl->ctl)
		ev_timer_stop(pl->ctl->loop, &pl->retry);
	fed_kube_call_cancel(pl->call);
	free(pl->ns);
	free(pl->name);
	free(pl);
}
