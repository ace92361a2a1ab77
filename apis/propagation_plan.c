/* The propagation plan (see propagation_plan.h): first what the object as
 * a whole says (being deleted, a spec that cannot be propagated, where it
 * is placed), then for each member what to write, from what it holds and
 * what we recorded there. The per-cluster decisions of a placed member
 * (write, leave, wait, park) are in propagation_plan_ensure.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/propagation_plan.h"
#include "propagation_plan_internal.h"

static const char *const action_names[] = {"None",   "Create", "Update", "Adopt", "Get",
                                           "Delete", "Orphan", "Wait",   "Forget"};
static const char *const reason_names[] = {"",
                                           "ClusterNotReady",
                                           "WaitingForRemoval",
                                           "AlreadyExists",
                                           "ManagedLabelFalse",
                                           "ApplyOverridesFailed",
                                           "ComputeResourceFailed",
                                           "CreationFailed",
                                           "UpdateFailed",
                                           "DeletionFailed",
                                           "LabelRemovalFailed",
                                           "RetrievalFailed"};
static const char *const cond_names[] = {"",
                                         "CheckClusters",
                                         "NamespaceNotFederated",
                                         "InvalidName",
                                         "ApplyOverridesFailed",
                                         "ComputePlacementFailed"};
static const char *const finalizer_names[] = {"Keep", "Add", "Remove"};

_Static_assert(sizeof(action_names) / sizeof(*action_names) == FED_PROP_ACTION_COUNT,
               "a name for every action");
_Static_assert(sizeof(reason_names) / sizeof(*reason_names) == FED_PROP_R_COUNT,
               "a name for every reason");
_Static_assert(sizeof(cond_names) / sizeof(*cond_names) == FED_PROP_COND_COUNT,
               "a name for every condition reason");
_Static_assert(sizeof(finalizer_names) / sizeof(*finalizer_names) == FED_PROP_FIN_COUNT,
               "a name for every finalizer change");

const char *fed_prop_action_name(enum fed_prop_action a)
{
	return (unsigned)a < FED_PROP_ACTION_COUNT ? action_names[a] : "?";
}

const char *fed_prop_reason_name(enum fed_prop_reason r)
{
	return (unsigned)r < FED_PROP_R_COUNT ? reason_names[r] : "?";
}

const char *fed_prop_cond_name(enum fed_prop_cond c)
{
	return (unsigned)c < FED_PROP_COND_COUNT ? cond_names[c] : "?";
}

const char *fed_prop_finalizer_name(enum fed_prop_finalizer f)
{
	return (unsigned)f < FED_PROP_FIN_COUNT ? finalizer_names[f] : "?";
}

enum fed_prop_reason fed_prop_reason_parse(const char *s)
{
	size_t i;

	for (i = 0; s && i < FED_PROP_R_COUNT; i++)
		if (!strcmp(s, reason_names[i]))
			return (enum fed_prop_reason)i;
	return FED_PROP_R_COUNT;
}

void fed_prop_plan_release(struct fed_prop_plan *p)
{
	if (!p)
		return;
	free(p->clusters);
	memset(p, 0, sizeof(*p));
}

/* ---- the object as a whole --------------------------------------------- */

static const cJSON *meta(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
	                                        key);
}

static const char *meta_str(const cJSON *obj, const char *key)
{
	return cJSON_GetStringValue(meta(obj, key));
}

/* Annotation keys have dots, so no dotted-path lookup. */
static const char *annotation(const cJSON *obj, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "annotations"), key));
}

static bool has_finalizer(const cJSON *fed)
{
	const cJSON *f;

	cJSON_ArrayForEach(f,
	                   cJSON_GetObjectItem(cJSON_GetObjectItem(fed, "metadata"), "finalizers"))
		if (cJSON_IsString(f) && !strcmp(f->valuestring, FED_PROP_SYNC_FINALIZER))
			return true;
	return false;
}

static const cJSON *spec_item(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "spec"), key);
}

static const char *or_null(const char *s)
{
	return s ? s : "(null)";
}

static int check_names(const struct fed_prop_in *in, struct fed_error *err)
{
	size_t i, j;

	for (i = 0; i < in->n; i++) {
		if (!in->members[i].name || !*in->members[i].name)
			return fed_error_set(err, FED_EINVAL,
			                     "members[%zu]: no name; pass the KubeFedCluster name",
			                     i);
		/* a handful of members: pairs are cheaper than a sort */
		for (j = 0; j < i; j++)
			if (!strcmp(in->members[j].name, in->members[i].name))
				return fed_error_set(err, FED_EINVAL,
				                     "members[%zu] and members[%zu]: the same "
				                     "cluster twice; pass each cluster once",
				                     j, i);
	}
	return 0;
}

/* Placement among the members that are still members, gated for
 * namespaced types by where the FederatedNamespace goes (kubefed). sel[i]
 * for members[i]; LEFT members stay false. */
static int place(const struct fed_prop_in *in, struct fed_prop_plan *out, bool *sel,
                 struct fed_error *err)
{
	struct fed_member_info *mi = calloc(in->n ? in->n : 1, sizeof(*mi));
	bool *s = calloc(in->n ? in->n : 1, sizeof(*s)),
	     *ns = calloc(in->n ? in->n : 1, sizeof(*ns));
	struct fed_error perr = FED_ERROR_INIT;
	size_t i, k = 0;
	int ret = 0;

	if (!mi || !s || !ns) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < in->n; i++)
		if (in->members[i].state != FED_PROP_LEFT)
			mi[k++] =
			    (struct fed_member_info){in->members[i].name, in->members[i].labels};
	if (fed_placement_select(spec_item(in->fed, "placement"), mi, k, s, &perr)) {
		out->cond = FED_PROP_COND_COMPUTE_PLACEMENT_FAILED;
		snprintf(out->message, sizeof(out->message), "%s", perr.msg);
		goto out;
	}
	if (in->type.target->namespaced && !in->type.is_namespaces) {
		if (!in->fed_namespace_obj) {
			out->cond = FED_PROP_COND_NAMESPACE_NOT_FEDERATED;
			goto out; /* placed nowhere */
		}
		/* a FederatedNamespace with a bad placement places nothing here;
		 * its own sync reports it */
		if (fed_placement_select(spec_item(in->fed_namespace_obj, "placement"), mi, k, ns,
		                         &perr))
			memset(ns, 0, in->n * sizeof(*ns));
	}
	for (i = 0, k = 0; i < in->n; i++)
		if (in->members[i].state != FED_PROP_LEFT) {
			sel[i] = s[k] &&
			         (!in->type.target->namespaced || in->type.is_namespaces || ns[k]);
			k++;
		}
out:
	free(ns);
	free(s);
	free(mi);
	return ret;
}

/* What the spec allows (cond) and where it is placed (sel). */
static int judge(const struct fed_prop_in *in, struct fed_prop_plan *out, bool *sel,
                 struct fed_error *err)
{
	const struct fed_prop_type *t = &in->type;
	const char *ns = meta_str(in->fed, "namespace"), *name = meta_str(in->fed, "name");
	struct fed_error oerr = FED_ERROR_INIT;

	if (t->target->namespaced && !t->is_namespaces &&
	    fed_namespace_reserved(ns, t->fed_namespace)) {
		out->cond = FED_PROP_COND_NAMESPACE_NOT_FEDERATED;
		snprintf(out->message, sizeof(out->message), "namespace %s is never propagated",
		         ns);
	} else if (t->is_namespaces && fed_namespace_reserved(name, t->fed_namespace)) {
		out->cond = FED_PROP_COND_NAMESPACE_NOT_FEDERATED;
		snprintf(out->message, sizeof(out->message), "namespace %s is never propagated",
		         name);
	} else if (t->is_namespaces && strcmp(name ? name : "", ns ? ns : "")) {
		out->cond = FED_PROP_COND_INVALID_NAME;
		snprintf(out->message, sizeof(out->message),
		         "a FederatedNamespace must be named after its namespace: %s/%s should be "
		         "%s/%s",
		         or_null(ns), or_null(name), or_null(ns), or_null(ns));
	} else if (fed_overrides_validate(spec_item(in->fed, "overrides"), &oerr)) {
		out->cond = FED_PROP_COND_APPLY_OVERRIDES_FAILED;
		snprintf(out->message, sizeof(out->message), "%s", oerr.msg);
	} else {
		return place(in, out, sel, err);
	}
	return 0;
}

/* ---- each member ------------------------------------------------------- */

static void set_record(struct fed_prop_cluster *c, enum fed_prop_reason r, const char *msg)
{
	c->record = true;
	c->reason = r;
	snprintf(c->message, sizeof(c->message), "%s", msg ? msg : "");
}

/* Not placed here, or the object is being deleted: take our copy off. */
static void plan_off(const struct fed_prop_in *in, const struct fed_prop_member *m,
                     struct fed_prop_plan *out, struct fed_prop_cluster *c)
{
	const struct fed_prop_record *r = m->rec;

	if (m->state == FED_PROP_READY) {
		if (m->managed) {
			out->remaining = true;
			if ((!r || !r->deleting) && !in->writes_held) {
				c->action = out->orphan ? FED_PROP_ORPHAN : FED_PROP_DELETE;
				set_record(c, FED_PROP_R_WAITING_FOR_REMOVAL, NULL);
			}
		} else if (r && r->written_at && in->now - r->written_at < FED_PROP_AWAIT_EVENT) {
			/* we just created it and its watch event is on its way:
			 * not gone yet, wait for it */
			out->remaining = true;
			c->action = FED_PROP_WAIT;
			c->retry_in = FED_PROP_AWAIT_EVENT;
		} else if (r) {
			c->action = FED_PROP_FORGET;
		}
	} else if (r && r->version && !out->orphan) {
		/* unreachable and it holds our copy: removal waits for it */
		out->remaining = true;
		set_record(c, FED_PROP_R_CLUSTER_NOT_READY,
		           "waiting for the cluster to remove its copy");
	} else if (r) {
		c->action = FED_PROP_FORGET; /* holds no copy: never blocks anything */
	}
}

static void plan_member(const struct fed_prop_in *in, size_t i, bool broken,
                        struct fed_prop_plan *out)
{
	const struct fed_prop_member *m = &in->members[i];
	struct fed_prop_cluster *c = &out->clusters[i];

	if (m->state == FED_PROP_LEFT) {
		if (m->rec)
			c->action = FED_PROP_FORGET; /* a cluster that left the federation */
		return;
	}
	if (broken)
		return; /* a spec that cannot be propagated changes nothing in members */
	/* not known yet: no verdict, no status; unless the object is not
	 * placed there and no copy of ours is recorded there: waiting would
	 * hold the status forever where the listing cannot happen (Secrets
	 * in a namespace fed no longer manages in that member). A delete
	 * still waits, so no copy is left behind by the finalizer's removal. */
	if (m->state == FED_PROP_LISTING && m->absent && !c->placed) {
		/* its namespace went with our copy in it (deleted while this
		 * controller did not watch it): nothing there to wait for or
		 * to remove; a record is forgotten */
		if (m->rec)
			c->action = FED_PROP_FORGET;
		return;
	}
	if ((m->state == FED_PROP_LISTING || m->state == FED_PROP_CONNECTING) &&
	    (c->placed || m->rec || out->deleting))
		out->listing = true;
	if (c->placed && !out->deleting) {
		if (m->state != FED_PROP_READY)
			set_record(c, FED_PROP_R_CLUSTER_NOT_READY, "the cluster is not ready");
		else if (!in->writes_held)
			fed_prop_plan_ensure(in, m, c);
		return;
	}
	plan_off(in, m, out, c);
}

/* The federated object is gone from the host but copies we wrote were not
 * taken off (deleted before our finalizer landed, or the finalizer was
 * removed by hand): remove those we can reach, forget the rest. A managed
 * copy in a listed member with no record of ours is as much an orphan (its
 * federated object went while no controller ran, or someone labelled it
 * kubefed.io/managed=true): it goes too, so what members hold follows the
 * host whatever the history. The caller plans a gone object only once the
 * host's objects have listed. */
static void plan_gone(const struct fed_prop_in *in, struct fed_prop_plan *out)
{
	size_t i;

	out->gone = true;
	for (i = 0; i < in->n; i++) {
		const struct fed_prop_member *m = &in->members[i];

		if (!m->rec) {
			if (m->managed && m->state == FED_PROP_READY) {
				out->clusters[i].action = FED_PROP_DELETE;
				out->remaining = true;
			}
			continue;
		}
		if (m->rec->version &&
		    (m->state == FED_PROP_READY || (m->state == FED_PROP_LISTING && !m->absent))) {
			out->clusters[i].action = FED_PROP_DELETE;
			out->remaining = true;
		} else {
			out->clusters[i].action = FED_PROP_FORGET;
		}
	}
}

/* The status a cluster's record holds once the plan is done. */
static const char *status_after(const struct fed_prop_member *m, const struct fed_prop_cluster *c)
{
	if (c->action == FED_PROP_FORGET)
		return NULL;
	if (c->record)
		return fed_prop_reason_name(c->reason);
	return m->rec ? m->rec->status : NULL;
}

static void conclude(const struct fed_prop_in *in, struct fed_prop_plan *out)
{
	size_t i;

	for (i = 0; i < in->n; i++) {
		const struct fed_prop_member *m = &in->members[i];
		const struct fed_prop_cluster *c = &out->clusters[i];
		const char *st = status_after(m, c);

		if (c->action == FED_PROP_WAIT && (!out->retry_in || c->retry_in < out->retry_in))
			out->retry_in = c->retry_in;
		/* the clusters the status lists: placed, or holding our copy */
		if (!out->deleting && out->cond == FED_PROP_COND_OK && m->state != FED_PROP_LEFT &&
		    (c->placed || (m->rec && m->rec->version && c->action != FED_PROP_FORGET)) &&
		    st && *st)
			out->cond = FED_PROP_COND_CHECK_CLUSTERS;
	}
	if (out->deleting) {
		if (!out->remaining)
			out->finalizer = FED_PROP_FIN_REMOVE;
	} else {
		out->write_status = !out->listing;
	}
}

int fed_prop_plan(const struct fed_prop_in *in, struct fed_prop_plan *out, struct fed_error *err)
{
	bool *sel = NULL, broken;
	const char *orphan;
	size_t i;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!in->type.target || (in->n && !in->members))
		return fed_error_set(err, FED_EINVAL,
		                     "propagation plan: no type or no members given");
	if ((ret = check_names(in, err)))
		return ret;
	out->clusters = calloc(in->n ? in->n : 1, sizeof(*out->clusters));
	sel = calloc(in->n ? in->n : 1, sizeof(*sel));
	if (!out->clusters || !sel) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	out->n = in->n;
	for (i = 0; i < in->n; i++)
		out->clusters[i].name = in->members[i].name;
	if (!in->fed) {
		plan_gone(in, out);
		goto out;
	}
	out->deleting = meta_str(in->fed, "deletionTimestamp") != NULL;
	if (out->deleting && !has_finalizer(in->fed))
		goto out; /* someone else's finalizer holds it; nothing of ours to do */
	orphan = annotation(in->fed, FED_PROP_ORPHAN_ANNOTATION);
	out->orphan = out->deleting && orphan && !strcmp(orphan, "true");
	/* The finalizer and the first writes to members go out together:
	 * waiting for the finalizer's round trip first would double the
	 * latency of every new object. */
	if (!out->deleting && !has_finalizer(in->fed))
		out->finalizer = FED_PROP_FIN_ADD;
	if (!out->deleting && (ret = judge(in, out, sel, err)))
		goto out;
	broken =
	    out->cond != FED_PROP_COND_OK && out->cond != FED_PROP_COND_NAMESPACE_NOT_FEDERATED;
	for (i = 0; i < in->n; i++) {
		out->clusters[i].placed = sel[i] && !broken;
		plan_member(in, i, broken, out);
	}
	conclude(in, out);
out:
	free(sel);
	if (ret)
		fed_prop_plan_release(out);
	return ret;
}
