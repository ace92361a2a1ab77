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

static int scale_cluster(struct fedctl_scale *s, const char *cluster, const char *ns,
                         const char *selector, const char *workload, struct fed_error *err)
{
	const struct fedctl_workload_kind *k, *only = NULL;
	const char *wname = NULL;
	bool *sel = NULL;
	size_t ci = fedctl_scale_member(s, cluster), found = 0;
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
			fedctl_scale_path(path, sizeof(path), k, ns, wname);
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
				fed_buf_printf(&q, FEDCTL_TYPES_API "/namespaces/%s/%s", ns,
				               k->plural);
			else
				fed_buf_printf(&q, FEDCTL_TYPES_API "/%s", k->plural);
			if (selector) {
				fed_buf_printf(&q, "?labelSelector=");
				for (const char *p = selector; *p; p++)
					if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
					    (*p >= '0' && *p <= '9') || strchr("-_.~", *p))
						fed_buf_printf(&q, "%c", *p);
					else
						fed_buf_printf(&q, "%%%02X", (unsigned char)*p);
			}
			ret = fedctl_scale_list(s, fed_buf_str(&q), &list, err);
			if (ret == FED_EINVALID)
				fed_error_wrap(err, "-l %s", selector);
			else if (ret)
				fed_error_wrap(err, "host: list %s", k->plural);
			fed_buf_release(&q);
			if (ret)
				break;
		}
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items")) {
			struct one_cluster a = {cluster, k->kind};
			const char *ons = fed_obj_namespace(it), *oname = fed_obj_name(it);
			if (!ons || !oname)
				continue;
			if ((ret = fedctl_scale_placed(s, it, sel, err)))
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
			if (fedctl_scale_find(s->rsps, ons, oname))
				fprintf(stderr,
				        "warning: %s %s/%s has a ReplicaSchedulingPreference: "
				        "fed-controller recomputes its per-cluster replicas; use "
				        "fedctl scale %s/%s -n %s to change the total\n",
				        k->kind, ons, oname, k->target, oname, ons);
			fedctl_scale_path(path, sizeof(path), k, ons, oname);
			if ((ret = fedctl_scale_update(s, path, it, set_cluster, &a, err)))
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

int cmd_scale(struct fedctl *ctx, int argc, char **argv)
{
	const char *ns = NULL, *selector = NULL, *workload = NULL, *output = NULL;
	int replicas = -1;
	bool dry_run = false;
	const struct fed_opt opts[] = {
	    {FED_OPT_INT, "replicas", 0, &replicas, "N", "the number of replicas (required)", NULL},
	    {FED_OPT_STRING, "namespace", 'n', &ns, "NS",
	     "only this namespace (unset: all namespaces in the CLUSTER form; the context's "
	     "namespace, else default, in the KIND/NAME form)",
	     NULL},
	    {FED_OPT_STRING, "selector", 'l', &selector, "SELECTOR",
	     "only the federated workloads with these labels (CLUSTER form)", NULL},
	    {FED_OPT_STRING, "workload", 0, &workload, "KIND/NAME",
	     "only this federated workload (CLUSTER form; needs -n or the context's "
	     "namespace)",
	     NULL},
	    {FED_OPT_BOOL, "dry-run", 0, &dry_run, NULL, "print the change, write nothing", NULL},
	    {FED_OPT_STRING, "output", 'o', &output, "FORMAT",
	     "table, or json or yaml: the objects written", "table"},
	    FED_OPT_TABLE_END,
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf out = FED_BUF_INIT;
	enum fedctl_output fmt;
	struct fedctl_scale s;
	char *args[1];
	int nargs, ret, rc = EXIT_FAIL;
	const struct fedctl_spec spec = {usage, examples, opts};
	bool stop;

	memset(&s, 0, sizeof(s));
	if ((ret = fedctl_parse_args(ctx, &spec, argc, argv, args, 1, &nargs, &stop)) || stop)
		return ret ? EXIT_USAGE : EXIT_OK;
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
	if (fedctl_host(ctx, &s.host, &err) || fedctl_scale_load(&s, &err))
		goto fail;
	if (!ns && (strchr(args[0], '/') || workload))
		ns = ctx->context_namespace ? ctx->context_namespace : "default";
	if (strchr(args[0], '/'))
		ret = fedctl_scale_total(&s, args[0], ns, &err);
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
