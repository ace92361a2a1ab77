/* fedctl federate KIND NAME: wrap an object of the host (or of a file)
 * in its Federated<Kind>, as kubefedctl federate does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/federated_type.h"
#include "fedctl.h"

static const char usage[] =
    "fedctl federate KIND NAME [-n NS] [--contents] [-o yaml|json] [--dry-run]\n"
    "       fedctl federate -f FILE [-o yaml|json] [--dry-run]";
static const char examples[] =
    "  # FederatedConfigMap web/settings from ConfigMap web/settings\n"
    "  fedctl federate configmap settings -n web\n"
    "  # the namespace web and every object in it of an enabled type\n"
    "  fedctl federate namespace web --contents\n"
    "  # print instead of creating\n"
    "  fedctl federate deployment frontend -n web -o yaml\n"
    "  # from a file (several documents or a List are fine)\n"
    "  fedctl federate -f app.yaml\n"
    "\n"
    "The federated object is placed on no cluster (placement.clusters: []): set its\n"
    "placement to propagate it.\n";

struct fed {
	struct fedctl *ctx;
	struct fed_kube_client *host;
	struct fed_type_config *types;
	size_t n_types;
	cJSON *ftcs;
	cJSON *out; /* federated objects */
};

static int load_types(struct fed *f, struct fed_error *err)
{
	const struct fed_kube_ref ftcs = {&fed_r_federatedtypeconfigs, f->ctx->fed_namespace, NULL,
	                                  NULL};
	const cJSON *it;
	int ret;

	ret = fedctl_call_ref(f->ctx, f->host, "GET", &ftcs, NULL, NULL, 0, &f->ftcs, err);
	if (ret == FED_ENOTFOUND)
		return fed_error_set(err, FED_ENOTFOUND,
		                     "no FederatedTypeConfig CRD on the host: install fed "
		                     "(kubectl apply -f manifests/) first");
	if (ret)
		return fed_error_wrap(err, "host: list federatedtypeconfigs in %s",
		                      f->ctx->fed_namespace);
	f->types = calloc(
	    (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(f->ftcs, "items")) + 1,
	    sizeof(*f->types));
	if (!f->types)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(f->ftcs, "items")) {
		struct fed_error e = FED_ERROR_INIT;
		if (!fed_type_config_parse(it, &f->types[f->n_types], &e))
			f->n_types++;
	}
	return 0;
}

/* The enabled type of an object: by apiVersion + kind. */
static const struct fed_type_config *type_of(struct fed *f, const char *api_version,
                                             const char *kind)
{
	size_t i;

	for (i = 0; i < f->n_types; i++) {
		const struct fed_api_resource *t = &f->types[i].target;
		char av[300];
		snprintf(av, sizeof(av), "%s%s%s", t->group && *t->group ? t->group : "",
		         t->group && *t->group ? "/" : "", t->version);
		if (!strcmp(t->kind, kind) && (!api_version || !strcmp(av, api_version)))
			return &f->types[i];
	}
	return NULL;
}

static int wrap(struct fed *f, const cJSON *obj, struct fed_error *err)
{
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "kind"));
	const char *av = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "apiVersion"));
	const struct fed_type_config *t = type_of(f, av, kind ? kind : "");
	char fav[300];

	if (!t) {
		char qk[FED_QUOTE_BUF], qa[FED_QUOTE_BUF];
		return fed_error_set(
		    err, FED_EINVAL,
		    "%s %s of kind %s (apiVersion %s): its type is not enabled for "
		    "federation (fedctl enable TYPE first)",
		    fed_obj_namespace(obj) ? fed_obj_namespace(obj) : "", fed_obj_name(obj),
		    fed_quote(qk, sizeof(qk), kind), fed_quote(qa, sizeof(qa), av));
	}
	snprintf(fav, sizeof(fav), "%s/%s", t->federated.group, t->federated.version);
	cJSON_AddItemToArray(
	    f->out, fedctl_federated_object(obj, fav, t->federated.kind, t->target.namespaced));
	return 0;
}

/* GET (or POST body to) the object, or the collection when name is NULL,
 * of type r in ns. */
static int call_type(struct fed *f, const char *method, const struct fed_api_resource *r,
                     const char *ns, const char *name, const char *body, cJSON **out,
                     struct fed_error *err)
{
	const struct fed_kube_resource kr =
	    fedctl_resource(r->group, r->version, r->plural, r->namespaced);
	const struct fed_kube_ref ref = {&kr, ns, name, NULL};

	return fedctl_call_ref(f->ctx, f->host, method, &ref, body, NULL, 0, out, err);
}

/* What --contents leaves out: objects other controllers own or create
 * (kubefedctl skips these too). */
static bool skip_content(const cJSON *o)
{
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "kind"));
	const char *name = fed_obj_name(o), *type = fed_obj_str(o, "type");

	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(o, "metadata"), "ownerReferences")))
		return true;
	if (!kind || !name)
		return true;
	if (!strcmp(kind, "ServiceAccount") && !strcmp(name, "default"))
		return true;
	if (!strcmp(kind, "ConfigMap") && !strcmp(name, "kube-root-ca.crt"))
		return true;
	if (!strcmp(kind, "Secret") && type && !strcmp(type, "kubernetes.io/service-account-token"))
		return true;
	return false;
}

static int contents(struct fed *f, const char *ns, struct fed_error *err)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < f->n_types && !ret; i++) {
		const struct fed_type_config *t = &f->types[i];
		cJSON *list = NULL, *it;
		if (!t->target.namespaced || !t->propagation_enabled)
			continue;
		ret = call_type(f, "GET", &t->target, ns, NULL, NULL, &list, err);
		if (ret == FED_ENOTFOUND) {
			fed_error_clear(err);
			ret = 0;
			continue;
		}
		if (ret) {
			fed_error_wrap(err, "host: list %s in %s", t->name, ns);
			break;
		}
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items")) {
			char av[300];
			if (skip_content(it) && cJSON_GetObjectItemCaseSensitive(it, "kind"))
				continue;
			/* list items carry no kind */
			snprintf(av, sizeof(av), "%s%s%s",
			         t->target.group && *t->target.group ? t->target.group : "",
			         t->target.group && *t->target.group ? "/" : "", t->target.version);
			cJSON_DeleteItemFromObjectCaseSensitive(it, "kind");
			cJSON_DeleteItemFromObjectCaseSensitive(it, "apiVersion");
			cJSON_AddStringToObject(it, "kind", t->target.kind);
			cJSON_AddStringToObject(it, "apiVersion", av);
			if (skip_content(it))
				continue;
			if ((ret = wrap(f, it, err)))
				break;
		}
		cJSON_Delete(list);
	}
	return ret;
}

/* Create each federated object; one already there is left as it is. */
static int create_all(struct fed *f, bool dry_run, struct fed_error *err)
{
	cJSON *o;
	int ret = 0;

	cJSON_ArrayForEach(o, f->out) {
		const char *kind =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "kind"));
		const char *ns = fed_obj_namespace(o), *name = fed_obj_name(o);
		const struct fed_type_config *t = NULL;
		char what[600], *body;
		size_t i;
		for (i = 0; i < f->n_types; i++)
			if (!strcmp(f->types[i].federated.kind, kind))
				t = &f->types[i];
		if (!t)
			continue;
		snprintf(what, sizeof(what), "%s %s%s%s", t->federated.plural, ns ? ns : "",
		         ns ? "/" : "", name);
		if (dry_run) {
			printf("host: %s would be created (dry run)\n", what);
			continue;
		}
		body = cJSON_PrintUnformatted(o);
		ret = call_type(f, "POST", &t->federated, ns, NULL, body, NULL, err);
		free(body);
		if (ret == FED_EEXISTS) {
			fed_error_clear(err);
			ret = 0;
			printf("host: %s already exists: left as it is\n", what);
			continue;
		}
		if (ret) {
			fed_error_wrap(err, "host: create %s%s", what,
			               ret == FED_EFORBIDDEN ? " (needs create on it)" : "");
			break;
		}
		printf("host: %s created\n", what);
	}
	return ret;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	struct fed_buf b = FED_BUF_INIT;
	char chunk[8192];
	size_t n;

	if (!fp)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0 && b.len < (64u << 20))
		fed_buf_append(&b, chunk, n);
	if (fp != stdin)
		fclose(fp);
	*len = b.len;
	return fed_buf_detach(&b);
}

struct federate_opts {
	const char *kind, *name; /* KIND NAME form */
	const char *ns, *output, *file;
	enum fedctl_output fmt;
	bool with_contents, dry_run;
};

/* argv -> o; an exit code when the command stops here, else -1. */
static int parse(struct fedctl *ctx, struct federate_opts *o, int argc, char **argv)
{
	const struct fed_opt opts[] = {
	    {FED_OPT_STRING, "namespace", 'n', &o->ns, "NS",
	     "namespace of the object (unset: the context's, else default)", NULL},
	    {FED_OPT_BOOL, "contents", 0, &o->with_contents, NULL,
	     "with KIND namespace: also every object in it of an enabled namespaced type", NULL},
	    {FED_OPT_STRING, "output", 'o', &o->output, "FORMAT",
	     "yaml or json: print the federated objects, create nothing", NULL},
	    {FED_OPT_STRING, "filename", 'f', &o->file, "FILE",
	     "read the objects from FILE (YAML or JSON, - for stdin) instead of the host", NULL},
	    {FED_OPT_BOOL, "dry-run", 0, &o->dry_run, NULL, "print what would be created", NULL},
	    FED_OPT_TABLE_END,
	};
	const struct fedctl_spec spec = {usage, examples, opts};
	char *args[2];
	int nargs, ret;
	bool stop;

	if ((ret = fedctl_parse_args(ctx, &spec, argc, argv, args, 2, &nargs, &stop)) || stop)
		return ret ? EXIT_USAGE : EXIT_OK;
	if ((o->file && nargs) || (!o->file && nargs != 2)) {
		fprintf(stderr, "error: federate needs KIND NAME, or -f FILE\nUsage: %s\n", usage);
		return EXIT_USAGE;
	}
	o->fmt = FEDCTL_OUT_TABLE;
	if (o->output && (fedctl_output_parse(o->output, &o->fmt) ||
	                  (o->fmt != FEDCTL_OUT_YAML && o->fmt != FEDCTL_OUT_JSON))) {
		fprintf(stderr, "error: --output must be yaml or json, not \"%s\"\n", o->output);
		return EXIT_USAGE;
	}
	if (o->with_contents && o->file) {
		fprintf(stderr, "error: --contents reads the namespace on the host: not with -f\n");
		return EXIT_USAGE;
	}
	o->kind = nargs ? args[0] : NULL;
	o->name = nargs ? args[1] : NULL;
	return -1;
}

/* -f FILE: each object, namespaced into ns when it names none. */
static int from_file(struct fed *f, const cJSON *objs, const char *ns, struct fed_error *err)
{
	cJSON *it;
	int ret = 0;

	cJSON_ArrayForEach(it, objs) {
		if (!fed_obj_namespace(it) &&
		    strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "kind")),
		           "Namespace"))
			cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(it, "metadata"),
			                        "namespace", ns);
		if ((ret = wrap(f, it, err)))
			break;
	}
	return ret;
}

/* The enabled type of d, else NULL with the message. */
static const struct fed_type_config *enabled_type(struct fed *f, const struct fedctl_type *d,
                                                  struct fed_error *err)
{
	size_t i;

	for (i = 0; i < f->n_types; i++)
		if (!strcmp(f->types[i].target.kind, d->kind) &&
		    !strcmp(f->types[i].target.group ? f->types[i].target.group : "", d->group))
			return &f->types[i];
	fed_error_set(err, FED_EINVAL,
	              "type %s%s%s is not enabled for federation (fedctl enable %s%s%s first)",
	              d->plural, *d->group ? "." : "", d->group, d->plural, *d->group ? "." : "",
	              d->group);
	return NULL;
}

/* KIND NAME: the object of the host (and with --contents what is in the
 * namespace). An exit code when the command stops here, else -1. */
static int from_host(struct fed *f, const struct federate_opts *o, const char *ns,
                     struct fed_error *err)
{
	const struct fed_type_config *t;
	struct fedctl_type d;
	cJSON *obj = NULL;
	int ret, rc = -1;

	if ((ret = fedctl_discover_type(f->ctx, f->host, o->kind, &d, err)) ||
	    !(t = enabled_type(f, &d, err)))
		goto out;
	if (o->with_contents && (strcmp(d.kind, "Namespace") || *d.group)) {
		fprintf(stderr, "error: --contents goes with KIND namespace\n");
		rc = EXIT_USAGE;
		goto out;
	}
	ret = call_type(f, "GET", &t->target, ns, o->name, NULL, &obj, err);
	if (ret == FED_ENOTFOUND)
		fed_error_set(err, FED_ENOTFOUND, "%s %s%s%s not found on the host", d.kind,
		              t->target.namespaced ? ns : "", t->target.namespaced ? "/" : "",
		              o->name);
	else if (ret)
		fed_error_wrap(err, "host: get %s %s", t->name, o->name);
	else if (!wrap(f, obj, err) && o->with_contents)
		contents(f, o->name, err);
out:
	if (rc < 0 && err->code)
		rc = fedctl_fail(err);
	cJSON_Delete(obj);
	fedctl_type_release(&d);
	return rc;
}

/* -o yaml|json: the federated objects, as kubectl prints them. */
static void print_objects(struct fed *f, enum fedctl_output fmt)
{
	struct fed_buf buf = FED_BUF_INIT;
	cJSON *it;

	cJSON_ArrayForEach(it, f->out) {
		if (fmt == FEDCTL_OUT_YAML) {
			if (it != f->out->child)
				fed_buf_printf(&buf, "---\n");
			fedctl_yaml(&buf, it);
		}
	}
	if (fmt == FEDCTL_OUT_JSON) {
		cJSON *list = cJSON_CreateObject();
		cJSON_AddStringToObject(list, "apiVersion", "v1");
		cJSON_AddItemToObject(list, "items", f->out);
		cJSON_AddStringToObject(list, "kind", "List");
		f->out = NULL;
		fedctl_json(&buf, list);
		cJSON_Delete(list);
	}
	fwrite(fed_buf_str(&buf), 1, buf.len, stdout);
	fed_buf_release(&buf);
}

/* The objects of -f FILE (*objs), parsed; an exit code on failure. */
static int read_file(const char *file, cJSON **objs, struct fed_error *err)
{
	size_t len = 0;
	char *data = slurp(file, &len);
	int rc = -1;

	if (!data) {
		fed_error_set(err, FED_EINVAL, "cannot read %s", file);
		rc = fedctl_fail(err);
	} else if (fedctl_objects_parse(data, len, file, objs, err)) {
		rc = fedctl_fail(err);
	}
	free(data);
	return rc;
}

int cmd_federate(struct fedctl *ctx, int argc, char **argv)
{
	struct fed_error err = FED_ERROR_INIT;
	struct federate_opts o;
	struct fed f;
	cJSON *objs = NULL;
	const char *ns;
	size_t i;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(&f, 0, sizeof(f));
	f.ctx = ctx;
	if ((rc = parse(ctx, &o, argc, argv)) >= 0 ||
	    (o.file && (rc = read_file(o.file, &objs, &err)) >= 0))
		goto out;
	f.out = cJSON_CreateArray();
	if (fedctl_host(ctx, &f.host, &err) || load_types(&f, &err)) {
		rc = fedctl_fail(&err);
		goto out;
	}
	ns = o.ns ? o.ns : ctx->context_namespace ? ctx->context_namespace : "default";
	if (o.file && from_file(&f, objs, ns, &err))
		rc = fedctl_fail(&err);
	else if (!o.file)
		rc = from_host(&f, &o, ns, &err);
	if (rc >= 0)
		goto out;
	rc = EXIT_OK;
	if (o.output)
		print_objects(&f, o.fmt);
	else if (create_all(&f, o.dry_run, &err))
		rc = fedctl_fail(&err);
out:
	for (i = 0; i < f.n_types; i++)
		fed_type_config_release(&f.types[i]);
	free(f.types);
	cJSON_Delete(f.ftcs);
	cJSON_Delete(f.out);
	cJSON_Delete(objs);
	return rc;
}
