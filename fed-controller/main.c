/* fed-controller: runs on the host cluster. This is the process shell:
 * options, logging, the event loop, signals, the connection to the host
 * and informers on its two inputs (the Federation ConfigMap and the
 * kubeconfig Secret). Joining members builds on these (issue 3). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "fed/informer.h"
#include "fed/log.h"
#include "fed/opt.h"

struct controller {
	struct ev_loop *loop;
	struct fed_kube_client *host;
	struct fed_informer *config;
	struct fed_informer *secret;
	ev_signal sigint, sigterm;
};

struct options {
	const char *kubeconfig;
	const char *context;
	const char *config_namespace;
	const char *config_name;
	const char *secret_name;
	const char *log_level;
	bool log_json;
};

static void on_config(const cJSON *obj, void *ud)
{
	FED_LOG_INFO(NULL, "federation config %s/%s at resourceVersion %s", fed_obj_namespace(obj),
		     fed_obj_name(obj), fed_obj_resource_version(obj));
}

static void on_config_update(const cJSON *old, const cJSON *obj, void *ud)
{
	on_config(obj, ud);
}

static void on_config_delete(const cJSON *obj, void *ud)
{
	FED_LOG_WARN(NULL, "federation config %s/%s was deleted", fed_obj_namespace(obj),
		     fed_obj_name(obj));
}

static void on_secret(const cJSON *obj, void *ud)
{
	/* names and versions only: the data holds credentials */
	FED_LOG_INFO(NULL, "kubeconfig secret %s/%s at resourceVersion %s", fed_obj_namespace(obj),
		     fed_obj_name(obj), fed_obj_resource_version(obj));
}

static void on_secret_update(const cJSON *old, const cJSON *obj, void *ud)
{
	on_secret(obj, ud);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	FED_LOG_INFO(NULL, "received signal %d, shutting down", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

static int watch_named(struct controller *c, const struct fed_kube_resource *r, const char *ns,
		       const char *name, struct fed_informer_handlers h, struct fed_informer **out,
		       struct fed_error *err)
{
	struct fed_informer_opts o;
	char field[300];

	memset(&o, 0, sizeof(o));
	snprintf(field, sizeof(field), "metadata.name=%s", name);
	o.resource = *r;
	o.namespace = ns;
	o.field_selector = field;
	o.handlers = h;
	o.ud = c;
	if (fed_informer_new(out, c->host, &o, err))
		return err->code;
	fed_informer_start(*out);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct fed_kube_resource r_cm = {"", "v1", "configmaps", true};
	static const struct fed_kube_resource r_secret = {"", "v1", "secrets", true};
	struct options o = {NULL, NULL, "kube-system", "kubefed-config", "kubefed-kubeconfig", "info", false};
	const struct fed_opt table[] = {
		{FED_OPT_STRING, "kubeconfig", 0, &o.kubeconfig, "FILE", "kubeconfig of the host cluster (default: in-cluster)"},
		{FED_OPT_STRING, "context", 0, &o.context, "CONTEXT", "kubeconfig context of the host cluster"},
		{FED_OPT_STRING, "config-namespace", 0, &o.config_namespace, "NS", "namespace of the Federation ConfigMap and Secret (default kube-system)"},
		{FED_OPT_STRING, "config-name", 0, &o.config_name, "NAME", "Federation ConfigMap (default kubefed-config)"},
		{FED_OPT_STRING, "secret-name", 0, &o.secret_name, "NAME", "kubeconfig Secret (default kubefed-kubeconfig)"},
		{FED_OPT_STRING, "log-level", 0, &o.log_level, "LEVEL", "error, warn, info, debug or trace (default info)"},
		{FED_OPT_BOOL, "log-json", 0, &o.log_json, NULL, "log JSON lines"},
		FED_OPT_TABLE_END,
	};
	const struct fed_opt *const tables[] = {table, NULL};
	struct fed_informer_handlers hc = {on_config, on_config_update, on_config_delete, NULL};
	struct fed_informer_handlers hs = {on_secret, on_secret_update, NULL, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_rest_config cfg;
	struct controller c;
	char *args[1];
	bool help;
	int nargs, level, ret = 1;

	memset(&c, 0, sizeof(c));
	fed_rest_config_init(&cfg);
	if (fed_opt_parse(tables, argc - 1, argv + 1, args, 0, &nargs, &help, &err)) {
		fprintf(stderr, "fed-controller: %s\n", err.msg);
		return 2;
	}
	if (help) {
		printf("Usage: fed-controller [options]\n\nOptions:\n");
		fed_opt_print_help(stdout, tables);
		return 0;
	}
	level = fed_log_level_parse(o.log_level);
	if (level < 0) {
		fprintf(stderr, "fed-controller: --log-level: unknown level \"%s\" (use error, warn, info, debug or trace)\n", o.log_level);
		return 2;
	}
	fed_log_setup(level, o.log_json);
	c.loop = ev_default_loop(0);
	if (fed_rest_config_load(&cfg, o.kubeconfig, o.context, &err) ||
	    fed_kube_client_new(&c.host, c.loop, &cfg, "host", &err)) {
		FED_LOG_ERR(NULL, "%s", err.msg);
		goto out;
	}
	FED_LOG_INFO(NULL, "fed-controller %s connecting to %s", FED_VERSION, cfg.server);
	if (watch_named(&c, &r_cm, o.config_namespace, o.config_name, hc, &c.config, &err) ||
	    watch_named(&c, &r_secret, o.config_namespace, o.secret_name, hs, &c.secret, &err)) {
		FED_LOG_ERR(NULL, "%s", err.msg);
		goto out;
	}
	ev_signal_init(&c.sigint, on_signal, SIGINT);
	ev_signal_init(&c.sigterm, on_signal, SIGTERM);
	ev_signal_start(c.loop, &c.sigint);
	ev_signal_start(c.loop, &c.sigterm);
	ev_run(c.loop, 0);
	ret = 0;
out:
	fed_informer_free(c.config);
	fed_informer_free(c.secret);
	fed_kube_client_free(c.host);
	fed_rest_config_release(&cfg);
	if (c.loop)
		ev_loop_destroy(c.loop);
	return ret;
}
