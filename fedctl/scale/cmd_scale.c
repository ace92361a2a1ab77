/* fedctl scale: replicas of federated Deployments, ReplicaSets and
 * StatefulSets, per cluster (overrides) or in total (the RSP, else an
 * even spread; scale_total.c). Writes are resourceVersion-guarded PUTs,
 * re-read and redone on a conflict, so an edit made meanwhile is never
 * lost (scale_common.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scale.h"

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

/* ---- per cluster ---------------------------------------------------------- */

struct one_cluster {
	const char *cluster;
	const char *kind;
};

static int set_cluster(struct fedctl_scale *s, cJSON *obj, void *arg, bool *changed,
                       struct fed_error *err)
{
	struct one_cluster *a = arg;
	cJSON *old = cJSON_Duplicate(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "spec"), "overrides"), true);
	long long before = fedctl_replicas_for(obj, a->cluster);
	int ret = fedctl_replicas_set(obj, a->cluster, s->replicas, err);

	if (!ret) {
		*changed = !cJSON_Compare(
		    old, cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "spec"), "overrides"), true);
		ret = fedctl_scale_add_row(s, obj, a->kind, a->cluster, "override", before,
		                           s->replicas);
	}
	cJSON_Delete(old);
	return ret;
}

/* The federated workloads of kind k to look at: the one named wname (an
 * error when it is missing), else those in ns (all namespaces when NULL)
 * matching selector. */
static int workloads(struct fedctl_scale *s, const struct fedctl_workload_kind *k, const char *ns,
                     const char *selector, const char *wname, cJSON **list, struct fed_error *err)
{
	const struct fed_kube_list_opts o = {.label_selector = selector};
	struct fed_kube_resource r;
	struct fed_kube_ref ref;
	cJSON *it = NULL;
	int ret;

	fedctl_scale_ref(&r, &ref, k, ns, wname);
	if (!wname) {
		ret = fedctl_scale_list(s, &ref, &o, list, err);
		if (ret == FED_EINVALID)
			return fed_error_wrap(err, "-l %s", selector);
		return ret ? fed_error_wrap(err, "host: list %s", k->plural) : 0;
	}
	ret = fedctl_call_ref(s->ctx, s->host, "GET", &ref, NULL, NULL, 0, &it, err);
	if (ret == FED_ENOTFOUND)
		return fed_error_set(err, FED_ENOTFOUND,
		                     "%s %s/%s not found (kubectl -n %s get %s)", k->kind, ns,
		                     wname, ns, k->plural);
	if (ret)
		return fed_error_wrap(err, "host: get %s %s/%s", k->plural, ns, wname);
	*list = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(*list, "items"), it);
	return 0;
}

/* Set the cluster's override on one workload (it when placed there; only:
 * the one named, an error when it is not placed there). */
static int scale_one(struct fedctl_scale *s, const struct fedctl_workload_kind *k, cJSON *it,
                     struct one_cluster *a, size_t ci, bool only, bool *sel, size_t *found,
                     struct fed_error *err)
{
	const char *ns = fed_obj_namespace(it), *name = fed_obj_name(it);
	struct fed_kube_resource r;
	struct fed_kube_ref ref;
	int ret;

	if (!ns || !name)
		return 0;
	if ((ret = fedctl_scale_placed(s, it, sel, err)))
		return ret;
	if (!sel[ci])
		return only ? fed_error_set(err, FED_EINVAL,
		                            "%s %s/%s is not placed on cluster %s (its "
		                            "spec.placement, or that of FederatedNamespace "
		                            "%s, leaves it out)",
		                            k->kind, ns, name, a->cluster, ns)
		            : 0;
	(*found)++;
	if (fedctl_scale_find(s->rsps, ns, name))
		fprintf(stderr,
		        "warning: %s %s/%s has a ReplicaSchedulingPreference: "
		        "fed-controller recomputes its per-cluster replicas; use "
		        "fedctl scale %s/%s -n %s to change the total\n",
		        k->kind, ns, name, k->target, name, ns);
	fedctl_scale_ref(&r, &ref, k, ns, name);
	return fedctl_scale_update(s, &ref, it, set_cluster, a, err);
}

/* scale CLUSTER: the cluster's override on every workload placed there
 * (of workload, only that one). */
static int scale_cluster(struct fedctl_scale *s, const char *cluster, const char *ns,
                         const char *selector, const char *workload, struct fed_error *err)
{
	const struct fedctl_workload_kind *k, *only = NULL;
	const char *wname = workload ? strchr(workload, '/') + 1 : NULL;
	size_t ci = fedctl_scale_member(s, cluster), found = 0;
	bool *sel = NULL;
	int ret = 0;

	if (ci == (size_t)-1)
		return fed_error_set(err, FED_ENOTFOUND,
		                     "cluster \"%s\" is not joined, or fed-controller has not "
		                     "written its KubeFedCluster yet (fedctl list shows the joined "
		                     "clusters)",
		                     cluster);
	if (workload) {
		char kind[128];
		snprintf(kind, sizeof(kind), "%.*s", (int)(wname - 1 - workload), workload);
		only = fedctl_workload_kind(kind);
	}
	if (!(sel = calloc(s->n_members + 1, sizeof(*sel))))
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	for (k = fedctl_workload_kinds(); k->kind && !ret; k++) {
		struct one_cluster a = {cluster, k->kind};
		cJSON *list = NULL, *it;
		if ((only && only != k) || (ret = workloads(s, k, ns, selector, wname, &list, err)))
			continue;
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items")) {
			if ((ret = scale_one(s, k, it, &a, ci, only != NULL, sel, &found, err)))
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

struct scale_opts {
	const char *target; /* CLUSTER or KIND/NAME */
	const char *ns, *selector, *workload, *output;
	enum fedctl_output fmt;
	int replicas;
	bool dry_run;
};

#define BAD_KIND                                                                                   \
	" is not KIND/NAME with KIND deployment, replicaset or statefulset (or their "             \
	"Federated kinds)\n"

/* The options that go together, and the KIND/NAMEs; an exit code when the
 * command stops here, else -1. */
static int check(struct scale_opts *o)
{
	struct fed_error err = FED_ERROR_INIT;
	bool total = strchr(o->target, '/') != NULL;

	if (o->replicas < 0)
		fprintf(stderr, "error: --replicas=N is required (N >= 0)\nUsage: %s\n", usage);
	else if (fedctl_output_parse(o->output, &o->fmt) ||
	         (o->fmt != FEDCTL_OUT_TABLE && o->fmt != FEDCTL_OUT_JSON &&
	          o->fmt != FEDCTL_OUT_YAML))
		fprintf(stderr, "error: --output must be table, json or yaml, not \"%s\"\n",
		        o->output);
	else if (o->selector && o->workload)
		fprintf(stderr, "error: -l and --workload exclude each other: give one\n");
	else if (total && (o->selector || o->workload))
		fprintf(stderr,
		        "error: -l and --workload go with the CLUSTER form, not KIND/NAME\n");
	else if (total && bad_workload(o->target))
		fprintf(stderr, "error: \"%s\"" BAD_KIND, o->target);
	else if (!total && fedctl_check_cluster_name(o->target, &err))
		return fedctl_fail(&err);
	else if (o->workload && bad_workload(o->workload))
		fprintf(stderr, "error: --workload \"%s\"" BAD_KIND, o->workload);
	else
		return -1;
	return EXIT_USAGE;
}

/* argv -> o; an exit code when the command stops here, else -1. */
static int parse(struct fedctl *ctx, struct scale_opts *o, int argc, char **argv)
{
	const struct fed_opt opts[] = {
	    {FED_OPT_INT, "replicas", 0, &o->replicas, "N", "the number of replicas (required)",
	     NULL},
	    {FED_OPT_STRING, "namespace", 'n', &o->ns, "NS",
	     "only this namespace (unset: all namespaces in the CLUSTER form; the context's "
	     "namespace, else default, in the KIND/NAME form)",
	     NULL},
	    {FED_OPT_STRING, "selector", 'l', &o->selector, "SELECTOR",
	     "only the federated workloads with these labels (CLUSTER form)", NULL},
	    {FED_OPT_STRING, "workload", 0, &o->workload, "KIND/NAME",
	     "only this federated workload (CLUSTER form; needs -n or the context's "
	     "namespace)",
	     NULL},
	    {FED_OPT_BOOL, "dry-run", 0, &o->dry_run, NULL, "print the change, write nothing",
	     NULL},
	    {FED_OPT_STRING, "output", 'o', &o->output, "FORMAT",
	     "table, or json or yaml: the objects written", "table"},
	    FED_OPT_TABLE_END,
	};
	const struct fedctl_spec spec = {usage, examples, opts};
	char *args[1];
	int nargs, ret;
	bool stop;

	o->replicas = -1; /* required: no default */
	if ((ret = fedctl_parse_args(ctx, &spec, argc, argv, args, 1, &nargs, &stop)) || stop)
		return ret ? EXIT_USAGE : EXIT_OK;
	if (nargs != 1) {
		fprintf(stderr, "error: scale needs a CLUSTER or a KIND/NAME\nUsage: %s\n", usage);
		return EXIT_USAGE;
	}
	o->target = args[0];
	return check(o);
}

/* The table of changes, or the objects written as a List. */
static int print_result(struct fedctl_scale *s, enum fedctl_output fmt, struct fed_error *err)
{
	struct fed_buf out = FED_BUF_INIT;
	int ret;

	if (fmt == FEDCTL_OUT_TABLE) {
		struct fedctl_scale_row *rows = calloc(s->n_rows + 1, sizeof(*rows));
		size_t i;
		for (i = 0; rows && i < s->n_rows; i++)
			rows[i] = (struct fedctl_scale_row){
			    s->rows[i].ns,  s->rows[i].kind,   s->rows[i].name, s->rows[i].cluster,
			    s->rows[i].via, s->rows[i].before, s->rows[i].after};
		ret = rows ? fedctl_format_scale(&out, rows, s->n_rows) : FED_ENOMEM;
		free(rows);
	} else {
		cJSON *list = cJSON_CreateObject();
		cJSON_AddStringToObject(list, "apiVersion", "v1");
		cJSON_AddItemToObject(list, "items", s->items);
		cJSON_AddStringToObject(list, "kind", "List");
		cJSON_AddItemToObject(cJSON_AddObjectToObject(list, "metadata"), "resourceVersion",
		                      cJSON_CreateString(""));
		s->items = NULL;
		ret = fmt == FEDCTL_OUT_JSON ? fedctl_json(&out, list) : fedctl_yaml(&out, list);
		cJSON_Delete(list);
	}
	if (ret)
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
	else
		fwrite(fed_buf_str(&out), 1, out.len, stdout);
	fed_buf_release(&out);
	return ret;
}

int cmd_scale(struct fedctl *ctx, int argc, char **argv)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fedctl_scale s;
	struct scale_opts o;
	bool total;
	int rc;

	memset(&s, 0, sizeof(s));
	memset(&o, 0, sizeof(o));
	if ((rc = parse(ctx, &o, argc, argv)) >= 0)
		goto out;
	total = strchr(o.target, '/') != NULL;
	s.ctx = ctx;
	s.dry_run = o.dry_run;
	s.replicas = o.replicas;
	s.items = cJSON_CreateArray();
	rc = EXIT_OK;
	if (fedctl_host(ctx, &s.host, &err) || fedctl_scale_load(&s, &err)) {
		rc = fedctl_fail(&err);
		goto out;
	}
	if (!o.ns && (total || o.workload))
		o.ns = ctx->context_namespace ? ctx->context_namespace : "default";
	if ((total ? fedctl_scale_total(&s, o.target, o.ns, &err)
	           : scale_cluster(&s, o.target, o.ns, o.selector, o.workload, &err)) ||
	    print_result(&s, o.fmt, &err))
		rc = fedctl_fail(&err);
	else if (o.dry_run)
		fprintf(stderr, "(dry run: nothing was changed)\n");
out:
	cJSON_Delete(s.kfcs);
	cJSON_Delete(s.fns);
	cJSON_Delete(s.rsps);
	cJSON_Delete(s.items);
	free(s.members);
	free(s.rows);
	return rc;
}
