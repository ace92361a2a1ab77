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
	char path[512];
	const cJSON *it;
	int ret;

	snprintf(path, sizeof(path), "/apis/%s/%s/namespaces/%s/%s", FED_CORE_GROUP,
	         FED_FTC_VERSION, f->ctx->fed_namespace, FED_FTC_PLURAL);
	ret = fedctl_call(f->ctx, f->host, "GET", path, NULL, NULL, 0, &f->ftcs, err);
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

static char *path_of(const struct fed_api_resource *r, const char *ns, const char *name)
{
	struct fed_buf b = FED_BUF_INIT;

	if (r->group && *r->group)
		fed_buf_printf(&b, "/apis/%s/%s", r->group, r->version);
	else
		fed_buf_printf(&b, "/api/%s", r->version);
	if (r->namespaced && ns)
		fed_buf_printf(&b, "/namespaces/%s", ns);
	fed_buf_printf(&b, "/%s", r->plural);
	if (name)
		fed_buf_printf(&b, "/%s", name);
	return fed_buf_detach(&b);
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
		char *p;
		cJSON *list = NULL, *it;
		if (!t->target.namespaced || !t->propagation_enabled)
			continue;
		p = path_of(&t->target, ns, NULL);
		ret = fedctl_call(f->ctx, f->host, "GET", p, NULL, NULL, 0, &list, err);
		free(p);
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
		char what[600], *p, *body;
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
		p = path_of(&t->federated, ns, NULL);
		body = cJSON_PrintUnformatted(o);
		ret = fedctl_call(f->ctx, f->host, "POST", p, body, NULL, 0, NULL, err);
		free(p);
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

int cmd_federate(struct fedctl *ctx, int argc, char **argv)
{
	const char *ns = NULL, *output = NULL, *file = NULL;
	bool with_contents = false, dry_run = false;
	const struct fed_opt opts[] = {
	    {FED_OPT_STRING, "namespace", 'n', &ns, "NS",
	     "namespace of the object (unset: the context's, else default)", NULL},
	    {FED_OPT_BOOL, "contents", 0, &with_contents, NULL,
	     "with KIND namespace: also every object in it of an enabled namespaced type", NULL},
	    {FED_OPT_STRING, "output", 'o', &output, "FORMAT",
	     "yaml or json: print the federated objects, create nothing", NULL},
	    {FED_OPT_STRING, "filename", 'f', &file, "FILE",
	     "read the objects from FILE (YAML or JSON, - for stdin) instead of the host", NULL},
	    {FED_OPT_BOOL, "dry-run", 0, &dry_run, NULL, "print what would be created", NULL},
	    FED_OPT_TABLE_END,
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf buf = FED_BUF_INIT;
	enum fedctl_output fmt = FEDCTL_OUT_TABLE;
	struct fedctl_type d;
	struct fed f;
	cJSON *objs = NULL, *it;
	char *args[2], *data = NULL;
	int nargs, ret, rc = EXIT_FAIL;
	size_t i, len = 0;
	const struct fedctl_spec spec = {usage, examples, opts};
	bool stop;

	memset(&f, 0, sizeof(f));
	memset(&d, 0, sizeof(d));
	if ((ret = fedctl_parse_args(ctx, &spec, argc, argv, args, 2, &nargs, &stop)) || stop)
		return ret ? EXIT_USAGE : EXIT_OK;
	if ((file && nargs) || (!file && nargs != 2)) {
		fprintf(stderr, "error: federate needs KIND NAME, or -f FILE\nUsage: %s\n", usage);
		return EXIT_USAGE;
	}
	if (output && (fedctl_output_parse(output, &fmt) ||
	               (fmt != FEDCTL_OUT_YAML && fmt != FEDCTL_OUT_JSON))) {
		fprintf(stderr, "error: --output must be yaml or json, not \"%s\"\n", output);
		return EXIT_USAGE;
	}
	if (with_contents && file) {
		fprintf(stderr, "error: --contents reads the namespace on the host: not with -f\n");
		return EXIT_USAGE;
	}
	f.ctx = ctx;
	f.out = cJSON_CreateArray();
	if (file) {
		if (!(data = slurp(file, &len))) {
			fed_error_set(&err, FED_EINVAL, "cannot read %s", file);
			goto fail;
		}
		if (fedctl_objects_parse(data, len, file, &objs, &err))
			goto fail;
	}
	if (fedctl_host(ctx, &f.host, &err) || load_types(&f, &err))
		goto fail;
	if (!ns)
		ns = ctx->context_namespace ? ctx->context_namespace : "default";
	if (file) {
		cJSON_ArrayForEach(it, objs) {
			if (!fed_obj_namespace(it) &&
			    strcmp(
			        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "kind")),
			        "Namespace"))
				cJSON_AddStringToObject(
				    cJSON_GetObjectItemCaseSensitive(it, "metadata"), "namespace",
				    ns);
			if (wrap(&f, it, &err))
				goto fail;
		}
	} else {
		const struct fed_type_config *t = NULL;
		char *p;
		cJSON *obj = NULL;
		bool is_ns;
		if (fedctl_discover_type(ctx, f.host, args[0], &d, &err))
			goto fail;
		for (i = 0; i < f.n_types; i++)
			if (!strcmp(f.types[i].target.kind, d.kind) &&
			    !strcmp(f.types[i].target.group ? f.types[i].target.group : "",
			            d.group))
				t = &f.types[i];
		if (!t) {
			fed_error_set(
			    &err, FED_EINVAL,
			    "type %s%s%s is not enabled for federation (fedctl enable %s%s%s "
			    "first)",
			    d.plural, *d.group ? "." : "", d.group, d.plural, *d.group ? "." : "",
			    d.group);
			goto fail;
		}
		is_ns = !strcmp(d.kind, "Namespace") && !*d.group;
		if (with_contents && !is_ns) {
			fprintf(stderr, "error: --contents goes with KIND namespace\n");
			rc = EXIT_USAGE;
			goto out;
		}
		p = path_of(&t->target, ns, args[1]);
		ret = fedctl_call(ctx, f.host, "GET", p, NULL, NULL, 0, &obj, &err);
		free(p);
		if (ret == FED_ENOTFOUND) {
			fed_error_set(&err, FED_ENOTFOUND, "%s %s%s%s not found on the host",
			              d.kind, t->target.namespaced ? ns : "",
			              t->target.namespaced ? "/" : "", args[1]);
			goto fail;
		}
		if (ret) {
			fed_error_wrap(&err, "host: get %s %s", t->name, args[1]);
			goto fail;
		}
		ret = wrap(&f, obj, &err);
		cJSON_Delete(obj);
		if (ret || (with_contents && contents(&f, args[1], &err)))
			goto fail;
	}
	if (output) {
		cJSON_ArrayForEach(it, f.out) {
			if (fmt == FEDCTL_OUT_YAML) {
				if (it != f.out->child)
					fed_buf_printf(&buf, "---\n");
				ret = fedctl_yaml(&buf, it);
			}
		}
		if (fmt == FEDCTL_OUT_JSON) {
			cJSON *list = cJSON_CreateObject();
			cJSON_AddStringToObject(list, "apiVersion", "v1");
			cJSON_AddItemToObject(list, "items", f.out);
			cJSON_AddStringToObject(list, "kind", "List");
			f.out = NULL;
			ret = fedctl_json(&buf, list);
			cJSON_Delete(list);
		}
		fwrite(fed_buf_str(&buf), 1, buf.len, stdout);
		rc = EXIT_OK;
		goto out;
	}
	if (create_all(&f, dry_run, &err))
		goto fail;
	rc = EXIT_OK;
	goto out;
fail:
	rc = fedctl_fail(&err);
out:
	for (i = 0; i < f.n_types; i++)
		fed_type_config_release(&f.types[i]);
	free(f.types);
	cJSON_Delete(f.ftcs);
	cJSON_Delete(f.out);
	cJSON_Delete(objs);
	fed_buf_release(&buf);
	fedctl_type_release(&d);
	free(data);
	return rc;
}
