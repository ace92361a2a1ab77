/* fedctl scale: replicas of federated Deployments, ReplicaSets and
 * StatefulSets, per cluster (overrides) or in total (the RSP, else an
 * even spread). Writes are resourceVersion-guarded PUTs, re-read and
 * redone on a conflict, so an edit made meanwhile is never lost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/propagation.h"
#include "fed/rsp.h"
#include "fedctl.h"

static const char usage[] =
    "fedctl scale CLUSTER --replicas=N [-n NS] [-l SELECTOR | --workload KIND/NAME]\n"
    "       fedctl scale KIND/NAME --replicas=N [-n NS]\n"
    "       [--dry-run] [-o table|json|yaml]";
static const char examples[] =
    "  # every federated workload placed on cluster1 runs 3 replicas there\n"
    "  fedctl scale cluster1 --replicas=3\n"
    "  # only those in namespace web labelled tier=front\n"
    "  fedctl scale cluster1 --replicas=3 -n web -l tier=front\n"
    "  # one workload\n"
    "  fedctl scale cluster1 --replicas=0 -n web --workload deployment/frontend\n"
    "  # 9 replicas in total: the ReplicaSchedulingPreference web/frontend when\n"
    "  # there is one, else spread evenly over the clusters it is placed on\n"
    "  fedctl scale deployment/frontend --replicas=9 -n web\n"
    "  # show what would change\n"
    "  fedctl scale cluster1 --replicas=3 --dry-run\n"
    "\n"
    "KIND is deployment (deploy), replicaset (rs) or statefulset (sts), with or\n"
    "without the Federated prefix.\n";

#define TYPES_API "/apis/types.kubefed.io/v1beta1"
#define RSP_API   "/apis/scheduling.kubefed.io/v1alpha1"
#define MAX_TRIES 5

struct row {
	char ns[254], kind[32], name[254], cluster[64], via[40];
	long long before, after;
};

struct scale {
	struct fedctl *ctx;
	struct fed_kube_client *host;
	bool dry_run;
	long long replicas;
	struct fed_member_info *members; /* KubeFedClusters, by name */
	size_t n_members;
	cJSON *kfcs;  /* their list (owns the names and labels) */
	cJSON *fns;   /* FederatedNamespaces (all namespaces); NULL: none */
	cJSON *rsps;  /* ReplicaSchedulingPreferences; NULL: none */
	cJSON *items; /* the objects written (or that would be) */
	struct row *rows;
	size_t n_rows, cap_rows;
};

static int add_row(struct scale *s, const cJSON *obj, const char *kind, const char *cluster,
                   const char *via, long long before, long long after)
{
	struct row *r;

	if (s->n_rows == s->cap_rows) {
		size_t cap = s->cap_rows ? s->cap_rows * 2 : 16;
		struct row *n = realloc(s->rows, cap * sizeof(*n));
		if (!n)
			return FED_ENOMEM;
		s->rows = n;
		s->cap_rows = cap;
	}
	r = &s->rows[s->n_rows++];
	snprintf(r->ns, sizeof(r->ns), "%s", fed_obj_namespace(obj) ? fed_obj_namespace(obj) : "");
	snprintf(r->kind, sizeof(r->kind), "%s", kind);
	snprintf(r->name, sizeof(r->name), "%s", fed_obj_name(obj) ? fed_obj_name(obj) : "");
	snprintf(r->cluster, sizeof(r->cluster), "%s", cluster);
	snprintf(r->via, sizeof(r->via), "%s", via);
	r->before = before;
	r->after = after;
	return 0;
}

static int cmp_member(const void *a, const void *b)
{
	return strcmp(((const struct fed_member_info *)a)->name,
	              ((const struct fed_member_info *)b)->name);
}

/* A list on the host; *out NULL (and 0) when the type is not served. */
static int list_or_none(struct scale *s, const char *path, cJSON **out, struct fed_error *err)
{
	int ret = fedctl_call(s->ctx, s->host, "GET", path, NULL, NULL, 0, out, err);

	if (ret == FED_ENOTFOUND) {
		fed_error_clear(err);
		*out = NULL;
		return 0;
	}
	return ret;
}

static int load_context(struct scale *s, struct fed_error *err)
{
	char path[512];
	const cJSON *it;
	size_t n = 0;
	int ret;

	snprintf(path, sizeof(path), "/apis/core.kubefed.io/v1beta1/namespaces/%s/kubefedclusters",
	         s->ctx->fed_namespace);
	if ((ret = list_or_none(s, path, &s->kfcs, err)))
		return fed_error_wrap(err, "host: list kubefedclusters in %s",
		                      s->ctx->fed_namespace);
	s->members = calloc((size_t)cJSON_GetArraySize(cJSON_GetObjectItem(s->kfcs, "items")) + 1,
	                    sizeof(*s->members));
	if (!s->members)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(s->kfcs, "items"))
	{
		if (!fed_obj_name(it))
			continue;
		s->members[n].name = fed_obj_name(it);
		s->members[n].labels =
		    cJSON_GetObjectItem(cJSON_GetObjectItem(it, "metadata"), "labels");
		n++;
	}
	s->n_members = n;
	qsort(s->members, n, sizeof(*s->members), cmp_member);
	if ((ret = list_or_none(s, TYPES_API "/federatednamespaces", &s->fns, err)))
		return fed_error_wrap(err, "host: list federatednamespaces");
	if ((ret = list_or_none(s, RSP_API "/replicaschedulingpreferences", &s->rsps, err)))
		return fed_error_wrap(err, "host: list replicaschedulingpreferences");
	return 0;
}

static const cJSON *find_in(const cJSON *list, const char *ns, const char *name)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items"))
	{
		const char *n = fed_obj_name(it), *s = fed_obj_namespace(it);
		if (n && s && !strcmp(n, name) && !strcmp(s, ns))
			return it;
	}
	return NULL;
}

/* Where fed-controller puts obj: its placement, within that of the
 * FederatedNamespace of its namespace (kubefed's gating). sel[] has
 * n_members entries. */
static int placed(struct scale *s, const cJSON *obj, bool *sel, struct fed_error *err)
{
	const char *ns = fed_obj_namespace(obj);
	const cJSON *fns = ns ? find_in(s->fns, ns, ns) : NULL;
	bool *nsel;
	size_t i;
	int ret;

	ret =
	    fed_placement_select(cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "spec"), "placement"),
	                         s->members, s->n_members, sel, err);
	if (ret)
		return fed_error_wrap(err, "%s/%s", ns ? ns : "", fed_obj_name(obj));
	if (!fns) {
		memset(sel, 0, s->n_members * sizeof(*sel));
		return 0;
	}
	if (!(nsel = calloc(s->n_members + 1, sizeof(*nsel))))
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	if (fed_placement_select(cJSON_GetObjectItem(cJSON_GetObjectItem(fns, "spec"), "placement"),
	                         s->members, s->n_members, nsel, err)) {
		fed_error_clear(err);
		memset(nsel, 0, s->n_members * sizeof(*nsel));
	}
	for (i = 0; i < s->n_members; i++)
		sel[i] = sel[i] && nsel[i];
	free(nsel);
	return 0;
}

static size_t member_index(const struct scale *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n_members; i++)
		if (!strcmp(s->members[i].name, name))
			return i;
	return (size_t)-1;
}

/* What a change does to one object: computes the new object from the
 * current one and appends its rows; *changed false when nothing would. */
typedef int (*mutate_fn)(struct scale *s, cJSON *obj, void *arg, bool *changed,
                         struct fed_error *err);

/* Apply mutate to the object at path, PUT with its resourceVersion, and
 * on a conflict read it again and redo. The rows of the last attempt stay. */
static int update(struct scale *s, const char *path, cJSON *obj, mutate_fn mutate, void *arg,
                  struct fed_error *err)
{
	cJSON *cur = cJSON_Duplicate(obj, true), *fresh = NULL;
	size_t rows0 = s->n_rows;
	int tries, ret = 0;

	for (tries = 0; tries < MAX_TRIES; tries++) {
		bool changed = false;
		char *body;
		s->n_rows = rows0;
		if (!cur)
			return fed_error_set(err, FED_ENOMEM, "out of memory");
		if ((ret = mutate(s, cur, arg, &changed, err)))
			break;
		if (!changed) {
			cJSON_AddItemToArray(s->items, cur);
			return 0;
		}
		if (s->dry_run) {
			cJSON_AddItemToArray(s->items, cur);
			return 0;
		}
		body = cJSON_PrintUnformatted(cur);
		ret = fedctl_call(s->ctx, s->host, "PUT", path, body, NULL, 0, &fresh, err);
		free(body);
		if (!ret) {
			cJSON_Delete(cur);
			cJSON_DeleteItemFromObjectCaseSensitive(
			    cJSON_GetObjectItem(fresh, "metadata"), "managedFields");
			cJSON_AddItemToArray(s->items, fresh);
			return 0;
		}
		if (ret != FED_ECONFLICT)
			break;
		/* changed meanwhile: start again from what is there now */
		cJSON_Delete(cur);
		cur = NULL;
		if (s->ctx->verbosity >= 2)
			fprintf(stderr, "conflict on %s: reading it again\n", path);
		if ((ret = fedctl_call(s->ctx, s->host, "GET", path, NULL, NULL, 0, &cur, err)))
			break;
	}
	cJSON_Delete(cur);
	if (!ret)
		ret =
		    fed_error_set(err, FED_ECONFLICT,
		                  "%s kept changing (%d conflicts in a row): run the command again",
		                  path, MAX_TRIES);
	if (ret == FED_EFORBIDDEN)
		return fed_error_wrap(err, "host: update %s (grant update on it)", path);
	return fed_error_wrap(err, "host: update %s", path);
}

/* ---- per cluster ---------------------------------------------------------- */

struct one_cluster {
	const char *cluster;
	const char *kind;
};

static int set_cluster(struct scale *s, cJSON *obj, void *arg, bool *changed, struct fed_error *err)
{
	struct one_cluster *a = arg;
	cJSON *old = cJSON_Duplicate(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "spec"), "overrides"), true);
	long long before = fedctl_replicas_for(obj, a->cluster);
	int ret = fedctl_replicas_set(obj, a->cluster, s->replicas, err);

	if (!ret) {
		*changed = !cJSON_Compare(
		    old, cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "spec"), "overrides"), true);
		ret = add_row(s, obj, a->kind, a->cluster, "override", before, s->replicas);
	}
	cJSON_Delete(old);
	return ret;
}

static void fed_path(char *buf, size_t n, const struct fedctl_workload_kind *k, const char *ns,
                     const char *name)
{
	snprintf(buf, n, TYPES_API "/namespaces/%s/%s/%s", ns, k->plural, name);
}

static int scale_cluster(struct scale *s, const char *cluster, const char *ns, const char *selector,
                         const char *workload, struct fed_error *err)
{
	const struct fedctl_workload_kind *k, *only = NULL;
	const char *wname = NULL;
	bool *sel = NULL;
	size_t ci = member_index(s, cluster), found = 0;
	char path[1024];
	int ret = 0;

	if (ci == (size_t)-1)
		return fed_error_set(err, FED_ENOTFOUND,
		                     "cluster \"%s\" is not joined, or fed-controller has not "
		                     "written its KubeFedCluster yet (fedctl list shows the joined "
		                     "clusters)",
		                     cluster);
	if (workload) {
		const char *slash = strchr(workload, '/');
		char kind[128];
		snprintf(kind, sizeof(kind), "%.*s", slash ? (int)(slash - workload) : 0, workload);
		only = fedctl_workload_kind(kind);
		wname = slash + 1;
	}
	if (!(sel = calloc(s->n_members + 1, sizeof(*sel))))
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	for (k = fedctl_workload_kinds(); k->kind && !ret; k++) {
		cJSON *list = NULL, *it;
		if (only && only != k)
			continue;
		if (only) {
			fed_path(path, sizeof(path), k, ns, wname);
			ret = fedctl_call(s->ctx, s->host, "GET", path, NULL, NULL, 0, &it, err);
			if (ret == FED_ENOTFOUND) {
				ret = fed_error_set(err, FED_ENOTFOUND,
				                    "%s %s/%s not found (kubectl -n %s get %s)",
				                    k->kind, ns, wname, ns, k->plural);
				break;
			}
			if (ret) {
				fed_error_wrap(err, "host: get %s %s/%s", k->plural, ns, wname);
				break;
			}
			list = cJSON_CreateObject();
			cJSON_AddItemToArray(cJSON_AddArrayToObject(list, "items"), it);
		} else {
			struct fed_buf q = FED_BUF_INIT;
			if (ns)
				fed_buf_printf(&q, TYPES_API "/namespaces/%s/%s", ns, k->plural);
			else
				fed_buf_printf(&q, TYPES_API "/%s", k->plural);
			if (selector) {
				fed_buf_printf(&q, "?labelSelector=");
				for (const char *p = selector; *p; p++)
					if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
					    (*p >= '0' && *p <= '9') || strchr("-_.~", *p))
						fed_buf_printf(&q, "%c", *p);
					else
						fed_buf_printf(&q, "%%%02X", (unsigned char)*p);
			}
			ret = list_or_none(s, fed_buf_str(&q), &list, err);
			if (ret == FED_EINVALID)
				fed_error_wrap(err, "-l %s", selector);
			else if (ret)
				fed_error_wrap(err, "host: list %s", k->plural);
			fed_buf_release(&q);
			if (ret)
				break;
		}
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items"))
		{
			struct one_cluster a = {cluster, k->kind};
			const char *ons = fed_obj_namespace(it), *oname = fed_obj_name(it);
			if (!ons || !oname)
				continue;
			if ((ret = placed(s, it, sel, err)))
				break;
			if (!sel[ci]) {
				if (only)
					ret = fed_error_set(
					    err, FED_EINVAL,
					    "%s %s/%s is not placed on cluster %s (its "
					    "spec.placement, or that of FederatedNamespace "
					    "%s, leaves it out)",
					    k->kind, ons, oname, cluster, ons);
				continue;
			}
			found++;
			if (find_in(s->rsps, ons, oname))
				fprintf(stderr,
				        "warning: %s %s/%s has a ReplicaSchedulingPreference: "
				        "fed-controller recomputes its per-cluster replicas; use "
				        "fedctl scale %s/%s -n %s to change the total\n",
				        k->kind, ons, oname, k->target, oname, ons);
			fed_path(path, sizeof(path), k, ons, oname);
			if ((ret = update(s, path, it, set_cluster, &a, err)))
				break;
		}
		cJSON_Delete(list);
	}
	free(sel);
	if (!ret && !found)
		ret =
		    fed_error_set(err, FED_ENOTFOUND,
		                  "no federated Deployment, ReplicaSet or StatefulSet%s%s%s%s is "
		                  "placed on cluster %s",
		                  ns ? " in namespace " : "", ns ? ns : "",
		                  selector ? " matching " : "", selector ? selector : "", cluster);
	return ret;
}

/* ---- total ------------------------------------------------------------- */

struct total {
	const struct fedctl_workload_kind *k;
};

/* Spread the total evenly over the clusters the object is placed on. */
static int set_total(struct scale *s, cJSON *obj, void *arg, bool *changed, struct fed_error *err)
{
	struct total *a = arg;
	cJSON *old = cJSON_Duplicate(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "spec"), "overrides"), true);
	bool *sel = calloc(s->n_members + 1, sizeof(*sel));
	long long *share = calloc(s->n_members + 1, sizeof(*share));
	size_t i, n = 0, j = 0;
	int ret;

	if (!sel || !share) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = placed(s, obj, sel, err)))
		goto out;
	for (i = 0; i < s->n_members; i++)
		n += sel[i];
	if (!n) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s %s/%s is placed on no cluster: set its spec.placement (and "
		                    "that of FederatedNamespace %s) first",
		                    a->k->kind, fed_obj_namespace(obj), fed_obj_name(obj),
		                    fed_obj_namespace(obj));
		goto out;
	}
	fedctl_spread(s->replicas, n, share);
	for (i = 0; i < s->n_members && !ret; i++) {
		long long before;
		if (!sel[i])
			continue;
		before = fedctl_replicas_for(obj, s->members[i].name);
		if (!(ret = fedctl_replicas_set(obj, s->members[i].name, share[j], err)))
			ret = add_row(s, obj, a->k->kind, s->members[i].name, "override", before,
			              share[j]);
		j++;
	}
	*changed = !cJSON_Compare(
	    old, cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "spec"), "overrides"), true);
out:
	cJSON_Delete(old);
	free(sel);
	free(share);
	return ret;
}

/* Set the RSP's totalReplicas; the rows show the plan fed-controller is
 * expected to make of it (the same planner). */
struct rsp_arg {
	const struct fedctl_workload_kind *k;
	const cJSON *target;
};

static int set_rsp(struct scale *s, cJSON *rsp, void *arg, bool *changed, struct fed_error *err)
{
	struct rsp_arg *a = arg;
	cJSON *spec = cJSON_GetObjectItem(rsp, "spec"), *tr;
	struct fed_rsp_spec plan_spec;
	struct fed_rsp_cluster_in *in = NULL;
	struct fed_rsp_cluster_out *out = NULL;
	bool *sel = NULL;
	size_t i;
	int ret;

	memset(&plan_spec, 0, sizeof(plan_spec));
	if (!cJSON_IsObject(spec))
		return fed_error_set(err, FED_EINVAL,
		                     "replicaschedulingpreference %s/%s has no spec",
		                     fed_obj_namespace(rsp), fed_obj_name(rsp));
	tr = cJSON_GetObjectItem(spec, "totalReplicas");
	*changed = !cJSON_IsNumber(tr) || (long long)tr->valuedouble != s->replicas;
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "totalReplicas");
	cJSON_AddNumberToObject(spec, "totalReplicas", (double)s->replicas);
	if ((ret = fed_rsp_parse(rsp, &plan_spec, err))) {
		fed_error_wrap(err, "replicaschedulingpreference %s/%s", fed_obj_namespace(rsp),
		               fed_obj_name(rsp));
		goto out;
	}
	in = calloc(s->n_members + 1, sizeof(*in));
	out = calloc(s->n_members + 1, sizeof(*out));
	sel = calloc(s->n_members + 1, sizeof(*sel));
	if (!in || !out || !sel) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = placed(s, a->target, sel, err)))
		goto out;
	for (i = 0; i < s->n_members; i++) {
		in[i].name = s->members[i].name;
		in[i].selected = sel[i];
		in[i].current = sel[i] ? fedctl_replicas_for(a->target, in[i].name) : 0;
		in[i].capacity = -1;
	}
	if ((ret = fed_rsp_plan(&plan_spec, in, s->n_members, out, NULL, err)))
		goto out;
	for (i = 0; i < s->n_members && !ret; i++)
		if (in[i].current || out[i].replicas)
			ret = add_row(s, a->target, a->k->kind, in[i].name, "rsp (planned)",
			              in[i].current, out[i].replicas);
out:
	fed_rsp_spec_release(&plan_spec);
	free(in);
	free(out);
	free(sel);
	return ret;
}

static int scale_total(struct scale *s, const char *kind_name, const char *ns,
                       struct fed_error *err)
{
	const struct fedctl_workload_kind *k;
	const char *slash = strchr(kind_name, '/'), *name = slash + 1;
	cJSON *obj = NULL, *rsp = NULL;
	char kind[128], path[1024];
	int ret;

	snprintf(kind, sizeof(kind), "%.*s", (int)(slash - kind_name), kind_name);
	k = fedctl_workload_kind(kind);
	fed_path(path, sizeof(path), k, ns, name);
	ret = fedctl_call(s->ctx, s->host, "GET", path, NULL, NULL, 0, &obj, err);
	if (ret == FED_ENOTFOUND)
		return fed_error_set(err, FED_ENOTFOUND,
		                     "%s %s/%s not found (kubectl -n %s get %s; fedctl federate "
		                     "creates one from a %s)",
		                     k->kind, ns, name, ns, k->plural, k->target);
	if (ret)
		return fed_error_wrap(err, "host: get %s %s/%s", k->plural, ns, name);
	snprintf(path, sizeof(path), RSP_API "/namespaces/%s/replicaschedulingpreferences/%s", ns,
	         name);
	ret = fedctl_call(s->ctx, s->host, "GET", path, NULL, NULL, 0, &rsp, err);
	if (ret == FED_ENOTFOUND) {
		struct total a = {k};
		fed_error_clear(err);
		fed_path(path, sizeof(path), k, ns, name);
		ret = update(s, path, obj, set_total, &a, err);
	} else if (!ret) {
		struct rsp_arg a = {k, obj};
		ret = update(s, path, rsp, set_rsp, &a, err);
	} else {
		fed_error_wrap(err, "host: get replicaschedulingpreference %s/%s", ns, name);
	}
	cJSON_Delete(obj);
	cJSON_Delete(rsp);
	return ret;
}

static bool bad_workload(const char *w)
{
	const char *slash = strchr(w, '/');
	char kind[128];

	if (!slash || slash == w || !slash[1] || strchr(slash + 1, '/') ||
	    (size_t)(slash - w) >= sizeof(kind))
		return true;
	snprintf(kind, sizeof(kind), "%.*s", (int)(slash - w), w);
	return !fedctl_workload_kind(kind);
}

int cmd_scale(struct fedctl *ctx, int argc, char **argv)
{
	const char *ns = NULL, *selector = NULL, *workload = NULL, *output = NULL;
	int replicas = -1;
	bool dry_run = false;
	const struct fed_opt opts[] = {
	    {FED_OPT_INT, "replicas", 0, &replicas, "N", "the number of replicas (required)"},
	    {FED_OPT_STRING, "namespace", 'n', &ns, "NS",
	     "only this namespace (CLUSTER form: default all namespaces; KIND/NAME form: "
	     "default the context's namespace, else default)"},
	    {FED_OPT_STRING, "selector", 'l', &selector, "SELECTOR",
	     "only the federated workloads with these labels (CLUSTER form)"},
	    {FED_OPT_STRING, "workload", 0, &workload, "KIND/NAME",
	     "only this federated workload (CLUSTER form; needs -n or the context's "
	     "namespace)"},
	    {FED_OPT_BOOL, "dry-run", 0, &dry_run, NULL, "print the change, write nothing"},
	    {FED_OPT_STRING, "output", 'o', &output, "FORMAT",
	     "table (default), json or yaml: the objects written"},
	    FED_OPT_TABLE_END,
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf out = FED_BUF_INIT;
	enum fedctl_output fmt;
	struct scale s;
	char *args[1];
	int nargs, ret, rc = EXIT_FAIL;

	memset(&s, 0, sizeof(s));
	ret = fedctl_parse(ctx, usage, examples, opts, argc, argv, args, 1, &nargs);
	if (ret >= 0)
		return ret;
	if (nargs != 1) {
		fprintf(stderr, "error: scale needs a CLUSTER or a KIND/NAME\nUsage: %s\n", usage);
		return EXIT_USAGE;
	}
	if (replicas < 0) {
		fprintf(stderr, "error: --replicas=N is required (N >= 0)\nUsage: %s\n", usage);
		return EXIT_USAGE;
	}
	if (fedctl_output_parse(output, &fmt) ||
	    (fmt != FEDCTL_OUT_TABLE && fmt != FEDCTL_OUT_JSON && fmt != FEDCTL_OUT_YAML)) {
		fprintf(stderr, "error: --output must be table, json or yaml, not \"%s\"\n",
		        output);
		return EXIT_USAGE;
	}
	if (selector && workload) {
		fprintf(stderr, "error: -l and --workload exclude each other: give one\n");
		return EXIT_USAGE;
	}
	if (strchr(args[0], '/')) {
		if (selector || workload) {
			fprintf(stderr, "error: -l and --workload go with the CLUSTER form, not "
			                "KIND/NAME\n");
			return EXIT_USAGE;
		}
		if (bad_workload(args[0])) {
			fprintf(
			    stderr,
			    "error: \"%s\" is not KIND/NAME with KIND deployment, replicaset or "
			    "statefulset (or their Federated kinds)\n",
			    args[0]);
			return EXIT_USAGE;
		}
	} else if (fedctl_check_cluster_name(args[0], &err)) {
		return fedctl_fail(&err);
	}
	if (workload && bad_workload(workload)) {
		fprintf(
		    stderr,
		    "error: --workload \"%s\" is not KIND/NAME with KIND deployment, replicaset "
		    "or statefulset (or their Federated kinds)\n",
		    workload);
		return EXIT_USAGE;
	}
	s.ctx = ctx;
	s.dry_run = dry_run;
	s.replicas = replicas;
	s.items = cJSON_CreateArray();
	if (fedctl_host(ctx, &s.host, &err) || load_context(&s, &err))
		goto fail;
	if (!ns && (strchr(args[0], '/') || workload))
		ns = ctx->context_namespace ? ctx->context_namespace : "default";
	if (strchr(args[0], '/'))
		ret = scale_total(&s, args[0], ns, &err);
	else
		ret = scale_cluster(&s, args[0], ns, selector, workload, &err);
	if (ret)
		goto fail;
	if (fmt == FEDCTL_OUT_TABLE) {
		struct fedctl_scale_row *rows = calloc(s.n_rows + 1, sizeof(*rows));
		size_t i;
		if (!rows) {
			fed_error_set(&err, FED_ENOMEM, "out of memory");
			goto fail;
		}
		for (i = 0; i < s.n_rows; i++)
			rows[i] = (struct fedctl_scale_row){
			    s.rows[i].ns,  s.rows[i].kind,   s.rows[i].name, s.rows[i].cluster,
			    s.rows[i].via, s.rows[i].before, s.rows[i].after};
		ret = fedctl_format_scale(&out, rows, s.n_rows);
		free(rows);
	} else {
		cJSON *list = cJSON_CreateObject();
		cJSON_AddStringToObject(list, "apiVersion", "v1");
		cJSON_AddItemToObject(list, "items", s.items);
		cJSON_AddStringToObject(list, "kind", "List");
		cJSON_AddItemToObject(cJSON_AddObjectToObject(list, "metadata"), "resourceVersion",
		                      cJSON_CreateString(""));
		s.items = NULL;
		ret = fmt == FEDCTL_OUT_JSON ? fedctl_json(&out, list) : fedctl_yaml(&out, list);
		cJSON_Delete(list);
	}
	if (ret) {
		fed_error_set(&err, FED_ENOMEM, "out of memory");
		goto fail;
	}
	fwrite(fed_buf_str(&out), 1, out.len, stdout);
	if (dry_run)
		fprintf(stderr, "(dry run: nothing was changed)\n");
	rc = EXIT_OK;
	goto out;
fail:
	rc = fedctl_fail(&err);
out:
	fed_buf_release(&out);
	cJSON_Delete(s.kfcs);
	cJSON_Delete(s.fns);
	cJSON_Delete(s.rsps);
	cJSON_Delete(s.items);
	free(s.members);
	free(s.rows);
	return rc;
}
