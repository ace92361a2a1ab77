/* Kubeconfig parsing, merging and loading (clientcmd's loading rules). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fed/base64.h"
#include "fed/buf.h"
#include "fed/kubeconfig.h"
#include "kubeconfig_internal.h"
#include "fed/yaml.h"

#define ENTRY_MAX 320

/* Entry paths only feed messages; a cut one is still a useful pointer. */
__attribute__((format(printf, 3, 4))) static void entry_fmt(char *dst, size_t n, const char *fmt,
                                                            ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}

struct pctx {
	struct fed_yaml_doc *doc;
	const char *src; /* owned by the kubeconfig being built */
	char *dir;       /* absolute directory of src, NULL for "<string>" */
	struct fed_kubeconfig *kc;
	struct fed_error *err;
};

static int oom(struct fed_error *err)
{
	return fed_error_set(err, FED_ENOMEM, "out of memory");
}

/* "~" and "~/x" from $HOME, then relative to the kubeconfig's directory
 * (clientcmd.ResolveLocalPaths). */
static int resolve_path(const char *dir, const char *path, char **out)
{
	struct fed_buf b = FED_BUF_INIT;
	const char *home = getenv("HOME");
	int ret;

	while (dir && path[0] == '.' && path[1] == '/')
		path += 2;
	if (path[0] == '~' && (path[1] == '/' || path[1] == '\0') && home && *home)
		ret = fed_buf_printf(&b, "%s%s", home, path + 1);
	else if (path[0] == '/' || !dir)
		ret = fed_buf_puts(&b, path);
	else
		ret = fed_buf_printf(&b, "%s/%s", dir, path);
	if (ret) {
		fed_buf_release(&b);
		return FED_ENOMEM;
	}
	*out = fed_buf_detach(&b);
	return *out ? 0 : FED_ENOMEM;
}

/* Absolute directory of a kubeconfig path, so that resolved paths keep
 * working (and read well in messages) whatever the cwd later is. */
static int source_dir(const char *source, char **out)
{
	struct fed_buf b = FED_BUF_INIT;
	const char *slash = strrchr(source, '/');
	char cwd[4096];
	int ret = 0;

	*out = NULL;
	if (source[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd)))
			snprintf(cwd, sizeof(cwd), ".");
		ret = fed_buf_puts(&b, cwd);
		if (!ret && slash)
			ret = fed_buf_puts(&b, "/");
	}
	if (!ret && slash)
		ret = fed_buf_append(&b, source, slash == source ? 1 : (size_t)(slash - source));
	if (ret) {
		fed_buf_release(&b);
		return FED_ENOMEM;
	}
	*out = fed_buf_detach(&b);
	return *out ? 0 : FED_ENOMEM;
}

/* n is the offending value; at, where to point (its key when it has one). */
static int type_error_at(struct pctx *p, struct fy_node *at, struct fy_node *n, const char *entry,
                         const char *field, const char *want)
{
	return fed_yaml_error(p->err, FED_EINVAL, p->doc, at, "%s%s%s must be %s, not %s", entry,
	                      *entry && *field ? "." : "", field, want,
	                      fed_yaml_kind_name(fed_yaml_kind(n)));
}

static int type_error(struct pctx *p, struct fy_node *n, const char *entry, const char *field,
                      const char *want)
{
	return type_error_at(p, n, n, entry, field, want);
}

/* map[key] has the wrong type */
static int key_error(struct pctx *p, struct fy_node *map, const char *entry, const char *key,
                     const char *want)
{
	return type_error_at(p, fed_yaml_key(map, key), fed_yaml_get(map, key), entry, key, want);
}

/* A string field; "" counts as unset, as in kubectl. */
static int get_str(struct pctx *p, struct fy_node *map, const char *entry, const char *key,
                   char **out)
{
	struct fy_node *v = fed_yaml_get(map, key);
	int ret;

	free(*out);
	ret = fed_yaml_str(v, out);
	if (ret == FED_EINVAL)
		return key_error(p, map, entry, key, "a string");
	if (ret)
		return oom(p->err);
	if (*out && !**out) {
		free(*out);
		*out = NULL;
	}
	return 0;
}

static int get_bool(struct pctx *p, struct fy_node *map, const char *entry, const char *key,
                    bool *out)
{
	struct fy_node *v = fed_yaml_get(map, key);

	if (fed_yaml_bool(v, out))
		return key_error(p, map, entry, key, "true or false");
	return 0;
}

static int get_path(struct pctx *p, struct fy_node *map, const char *entry, const char *key,
                    char **out)
{
	char *raw = NULL;
	int ret;

	ret = get_str(p, map, entry, key, &raw);
	if (ret || !raw)
		goto out;
	if (resolve_path(p->dir, raw, out))
		ret = oom(p->err);
out:
	free(raw);
	return ret;
}

static int get_data(struct pctx *p, struct fy_node *map, const char *entry, const char *key,
                    char **out, size_t *outlen)
{
	char *raw = NULL;
	int ret;

	ret = get_str(p, map, entry, key, &raw);
	if (ret || !raw)
		goto out;
	ret = fed_base64_decode(FED_BASE64_STD, raw, strlen(raw), out, outlen);
	if (ret == FED_EINVAL)
		ret = fed_yaml_error(p->err, FED_EINVAL, p->doc, fed_yaml_key(map, key),
		                     "%s.%s is not valid base64", entry, key);
	else if (ret)
		ret = oom(p->err);
out:
	free(raw);
	return ret;
}

/* A nested mapping ("cluster:", "user:", "exec:"): null is fine (empty). */
static int get_map(struct pctx *p, struct fy_node *parent, const char *entry, const char *key,
                   struct fy_node **out)
{
	*out = fed_yaml_get(parent, key);
	switch (fed_yaml_kind(*out)) {
	case FED_YAML_NULL:
		*out = NULL;
		return 0;
	case FED_YAML_MAP:
		return 0;
	default:
		return key_error(p, parent, entry, key, "a mapping");
	}
}

static int get_str_list(struct pctx *p, struct fy_node *map, const char *entry, const char *key,
                        char ***out)
{
	struct fy_node *seq = fed_yaml_get(map, key), *item;
	void *iter = NULL;
	size_t n = 0;
	char **v;
	int ret;

	*out = calloc(1, sizeof(char *));
	if (!*out)
		return oom(p->err);
	if (fed_yaml_kind(seq) == FED_YAML_NULL)
		return 0;
	if (fed_yaml_kind(seq) != FED_YAML_SEQ)
		return key_error(p, map, entry, key, "a list");
	while (fed_yaml_seq_next(seq, &iter, &item)) {
		v = realloc(*out, (n + 2) * sizeof(char *));
		if (!v)
			return oom(p->err);
		*out = v;
		v[n + 1] = NULL;
		ret = fed_yaml_str(item, &v[n]);
		if (ret == FED_EINVAL)
			return fed_yaml_error(p->err, ret, p->doc, item,
			                      "%s.%s[%zu] must be a string, not %s", entry, key, n,
			                      fed_yaml_kind_name(fed_yaml_kind(item)));
		if (ret)
			return oom(p->err);
		if (!v[n] && !(v[n] = strdup("")))
			return oom(p->err);
		n++;
	}
	return 0;
}

static int parse_exec_env(struct pctx *p, struct fy_node *exec, const char *entry,
                          struct fed_exec_config *ec)
{
	struct fy_node *seq = fed_yaml_get(exec, "env"), *item;
	char sub[ENTRY_MAX], *name = NULL, *value = NULL;
	void *iter = NULL;
	size_t n = 0;
	int ret = 0;

	if (!(ec->env = calloc(1, sizeof(char *))))
		return oom(p->err);
	if (fed_yaml_kind(seq) == FED_YAML_NULL)
		return 0;
	if (fed_yaml_kind(seq) != FED_YAML_SEQ)
		return key_error(p, exec, entry, "env", "a list");
	while (fed_yaml_seq_next(seq, &iter, &item)) {
		struct fed_buf b = FED_BUF_INIT;
		char **v;

		entry_fmt(sub, sizeof(sub), "%s.env[%zu]", entry, n);
		if (fed_yaml_kind(item) != FED_YAML_MAP) {
			ret = type_error(p, item, sub, "", "a mapping with name and value");
			goto out;
		}
		if ((ret = get_str(p, item, sub, "name", &name)) ||
		    (ret = get_str(p, item, sub, "value", &value)))
			goto out;
		if (!name || strchr(name, '=')) {
			ret = fed_yaml_error(p->err, FED_EINVAL, p->doc, item,
			                     "%s.name must be a variable name", sub);
			goto out;
		}
		v = realloc(ec->env, (n + 2) * sizeof(char *));
		if (!v || fed_buf_printf(&b, "%s=%s", name, value ? value : "")) {
			if (v)
				ec->env = v;
			ret = oom(p->err);
			goto out;
		}
		ec->env = v;
		v[n++] = fed_buf_detach(&b);
		v[n] = NULL;
		free(name);
		free(value);
		name = value = NULL;
	}
out:
	free(name);
	free(value);
	return ret;
}

static int parse_exec(struct pctx *p, struct fy_node *exec, const char *user_entry,
                      struct fed_exec_config **out)
{
	struct fed_exec_config *ec = NULL;
	char entry[ENTRY_MAX], *cmd = NULL;
	int ret;

	entry_fmt(entry, sizeof(entry), "%s.exec", user_entry);
	ec = calloc(1, sizeof(*ec));
	if (!ec) {
		ret = oom(p->err);
		goto out;
	}
	if ((ret = get_str(p, exec, entry, "apiVersion", &ec->api_version)) ||
	    (ret = get_str(p, exec, entry, "command", &cmd)) ||
	    (ret = get_str_list(p, exec, entry, "args", &ec->args)) ||
	    (ret = parse_exec_env(p, exec, entry, ec)) ||
	    (ret = get_str(p, exec, entry, "installHint", &ec->install_hint)) ||
	    (ret = get_bool(p, exec, entry, "provideClusterInfo", &ec->provide_cluster_info)) ||
	    (ret = get_str(p, exec, entry, "interactiveMode", &ec->interactive_mode)))
		goto out;
	/* clientcmd resolves a command with a slash against the kubeconfig's
	 * directory; a bare name is looked up in PATH when run. */
	if (cmd && strchr(cmd, '/')) {
		if (resolve_path(p->dir, cmd, &ec->command)) {
			ret = oom(p->err);
			goto out;
		}
	} else {
		ec->command = cmd;
		cmd = NULL;
	}
	*out = ec;
	ec = NULL;
out:
	free(cmd);
	fed_exec_config_free(ec);
	return ret;
}

static int parse_cluster(struct pctx *p, struct fy_node *item, const char *entry,
                         struct kc_cluster *c)
{
	struct fy_node *m;
	int ret;

	if ((ret = get_map(p, item, entry, "cluster", &m)) || !m)
		return ret;
	if ((ret = get_str(p, m, entry, "server", &c->server)) ||
	    (ret = get_str(p, m, entry, "tls-server-name", &c->tls_server_name)) ||
	    (ret = get_str(p, m, entry, "proxy-url", &c->proxy_url)) ||
	    (ret = get_bool(p, m, entry, "insecure-skip-tls-verify", &c->insecure)) ||
	    (ret = get_path(p, m, entry, "certificate-authority", &c->ca_file)) ||
	    (ret =
	         get_data(p, m, entry, "certificate-authority-data", &c->ca_data, &c->ca_data_len)))
		return ret;
	return 0;
}

static int parse_user(struct pctx *p, struct fy_node *item, const char *entry, struct kc_user *u)
{
	struct fy_node *m, *sub;
	int ret;

	if ((ret = get_map(p, item, entry, "user", &m)) || !m)
		return ret;
	if ((ret = get_path(p, m, entry, "client-certificate", &u->cert_file)) ||
	    (ret = get_data(p, m, entry, "client-certificate-data", &u->cert_data,
	                    &u->cert_data_len)) ||
	    (ret = get_path(p, m, entry, "client-key", &u->key_file)) ||
	    (ret = get_data(p, m, entry, "client-key-data", &u->key_data, &u->key_data_len)) ||
	    (ret = get_str(p, m, entry, "token", &u->token)) ||
	    (ret = get_path(p, m, entry, "tokenFile", &u->token_file)))
		return ret;
	/* auth-provider is only an error when this user is used, as kubectl
	 * loads such files fine until it needs the credential */
	if ((ret = get_map(p, m, entry, "auth-provider", &sub)))
		return ret;
	if (sub) {
		char sub_entry[ENTRY_MAX];
		entry_fmt(sub_entry, sizeof(sub_entry), "%s.auth-provider", entry);
		if ((ret = get_str(p, sub, sub_entry, "name", &u->auth_provider)))
			return ret;
		if (!u->auth_provider && !(u->auth_provider = strdup("")))
			return oom(p->err);
	}
	if ((ret = get_map(p, m, entry, "exec", &sub)))
		return ret;
	if (sub && (ret = parse_exec(p, sub, entry, &u->exec)))
		return ret;
	return 0;
}

static int parse_context(struct pctx *p, struct fy_node *item, const char *entry,
                         struct kc_context *c)
{
	struct fy_node *m;
	int ret;

	if ((ret = get_map(p, item, entry, "context", &m)) || !m)
		return ret;
	if ((ret = get_str(p, m, entry, "cluster", &c->cluster)) ||
	    (ret = get_str(p, m, entry, "user", &c->user)) ||
	    (ret = get_str(p, m, entry, "namespace", &c->namespace)))
		return ret;
	return 0;
}

static void free_cluster(struct kc_cluster *c)
{
	free(c->name);
	free(c->server);
	free(c->tls_server_name);
	free(c->proxy_url);
	free(c->ca_file);
	free(c->ca_data);
}

static void free_user(struct kc_user *u)
{
	free(u->name);
	free(u->cert_file);
	free(u->cert_data);
	free(u->key_file);
	free(u->key_data);
	free(u->token);
	free(u->token_file);
	fed_exec_config_free(u->exec);
	free(u->auth_provider);
}

static void free_context(struct kc_context *c)
{
	free(c->name);
	free(c->cluster);
	free(c->user);
	free(c->namespace);
}

enum list_kind { CLUSTERS, USERS, CONTEXTS };
static const char *const list_names[] = {"clusters", "users", "contexts"};

/* Line of an existing entry named name in this kubeconfig, or -1. */
static int find_line(const struct fed_kubeconfig *kc, enum list_kind kind, const char *name)
{
	size_t i;

	switch (kind) {
	case CLUSTERS:
		for (i = 0; i < kc->nclusters; i++)
			if (!strcmp(kc->clusters[i].name, name))
				return kc->clusters[i].line;
		break;
	case USERS:
		for (i = 0; i < kc->nusers; i++)
			if (!strcmp(kc->users[i].name, name))
				return kc->users[i].line;
		break;
	case CONTEXTS:
		for (i = 0; i < kc->ncontexts; i++)
			if (!strcmp(kc->contexts[i].name, name))
				return kc->contexts[i].line;
		break;
	}
	return -1;
}

/* Append a zeroed element to one of the kubeconfig's lists. */
static void *push(void **arr, size_t *n, size_t size)
{
	char *v = realloc(*arr, (*n + 1) * size);

	if (!v)
		return NULL;
	*arr = v;
	memset(v + *n * size, 0, size);
	return v + (*n)++ * size;
}

static int parse_list(struct pctx *p, struct fy_node *root, enum list_kind kind)
{
	const char *list = list_names[kind];
	struct fy_node *seq = fed_yaml_get(root, list), *item;
	char entry[ENTRY_MAX], *name = NULL;
	void *iter = NULL;
	size_t idx = 0;
	int ret = 0, line, col, first;

	if (fed_yaml_kind(seq) == FED_YAML_NULL)
		return 0;
	if (fed_yaml_kind(seq) != FED_YAML_SEQ)
		return key_error(p, root, "", list, "a list");
	for (; fed_yaml_seq_next(seq, &iter, &item); idx++) {
		struct fed_kubeconfig *kc = p->kc;
		void *elem;

		snprintf(entry, sizeof(entry), "%s[%zu]", list, idx);
		if (fed_yaml_kind(item) != FED_YAML_MAP) {
			ret = type_error(p, item, entry, "", "a mapping");
			goto out;
		}
		if ((ret = get_str(p, item, entry, "name", &name)))
			goto out;
		if (!name) {
			ret = fed_yaml_error(p->err, FED_EINVAL, p->doc, item, "%s.name is missing",
			                     entry);
			goto out;
		}
		snprintf(entry, sizeof(entry), "%s[%.200s]", list, name);
		fed_yaml_mark(item, &line, &col);
		/* client-go refuses duplicate names within one file */
		if ((first = find_line(kc, kind, name)) >= 0) {
			ret =
			    fed_yaml_error(p->err, FED_EINVAL, p->doc, item,
			                   "%s is defined twice (first at line %d)", entry, first);
			goto out;
		}
		if (kind == CLUSTERS)
			elem = push((void **)&kc->clusters, &kc->nclusters, sizeof(*kc->clusters));
		else if (kind == USERS)
			elem = push((void **)&kc->users, &kc->nusers, sizeof(*kc->users));
		else
			elem = push((void **)&kc->contexts, &kc->ncontexts, sizeof(*kc->contexts));
		if (!elem) {
			ret = oom(p->err);
			goto out;
		}
		if (kind == CLUSTERS) {
			struct kc_cluster *c = elem;
			c->name = name;
			c->src = p->src;
			c->line = line;
			ret = parse_cluster(p, item, entry, c);
		} else if (kind == USERS) {
			struct kc_user *u = elem;
			u->name = name;
			u->src = p->src;
			u->line = line;
			ret = parse_user(p, item, entry, u);
		} else {
			struct kc_context *c = elem;
			c->name = name;
			c->src = p->src;
			c->line = line;
			ret = parse_context(p, item, entry, c);
		}
		name = NULL;
		if (ret)
			goto out;
	}
out:
	free(name);
	return ret;
}

static int index_contexts(struct fed_kubeconfig *kc)
{
	const char **names = realloc(kc->context_names, (kc->ncontexts + 1) * sizeof(char *));
	size_t i;

	if (!names)
		return FED_ENOMEM;
	for (i = 0; i < kc->ncontexts; i++)
		names[i] = kc->contexts[i].name;
	names[kc->ncontexts] = NULL;
	kc->context_names = names;
	return 0;
}

static int check_header(struct pctx *p, struct fy_node *root)
{
	char *s = NULL;
	int ret;

	/* kubectl accepts a missing apiVersion/kind; anything else is most
	 * likely the wrong file */
	if ((ret = get_str(p, root, "", "kind", &s)))
		goto out;
	if (s && strcmp(s, "Config")) {
		ret = fed_yaml_error(p->err, FED_EINVAL, p->doc, fed_yaml_key(root, "kind"),
		                     "kind is \"%.100s\", expected Config (is this a kubeconfig?)",
		                     s);
		goto out;
	}
	if ((ret = get_str(p, root, "", "apiVersion", &s)))
		goto out;
	if (s && strcmp(s, "v1"))
		ret = fed_yaml_error(p->err, FED_EINVAL, p->doc, fed_yaml_key(root, "apiVersion"),
		                     "apiVersion is \"%.100s\", expected v1", s);
out:
	free(s);
	return ret;
}

int fed_kubeconfig_parse(struct fed_kubeconfig **out, const char *yaml, size_t len,
                         const char *source, struct fed_error *err)
{
	struct pctx p = {NULL, NULL, NULL, NULL, err};
	char desc[FED_ERROR_MSG_MAX];
	struct fy_node *root;
	int ret;

	*out = NULL;
	if (source && !*source)
		source = NULL;
	p.kc = calloc(1, sizeof(*p.kc));
	if (!p.kc || !(p.kc->sources = calloc(1, sizeof(char *))) ||
	    !(p.kc->sources[0] = strdup(source ? source : "<string>"))) {
		ret = oom(err);
		goto out;
	}
	p.kc->nsources = 1;
	p.src = p.kc->sources[0];
	if (source && source_dir(source, &p.dir)) {
		ret = oom(err);
		goto out;
	}
	snprintf(desc, sizeof(desc), "kubeconfig %s", p.src);
	if ((ret = fed_yaml_parse(&p.doc, yaml, len, desc, err)))
		goto out;
	root = fed_yaml_root(p.doc);
	if (fed_yaml_kind(root) != FED_YAML_NULL) {
		if (fed_yaml_kind(root) != FED_YAML_MAP) {
			ret = fed_yaml_error(err, FED_EINVAL, p.doc, root,
			                     "must be a mapping (apiVersion: v1, kind: Config, "
			                     "clusters, users, contexts), not %s",
			                     fed_yaml_kind_name(fed_yaml_kind(root)));
			goto out;
		}
		if ((ret = check_header(&p, root)) ||
		    (ret = get_str(&p, root, "", "current-context", &p.kc->current_context)) ||
		    (ret = parse_list(&p, root, CLUSTERS)) || (ret = parse_list(&p, root, USERS)) ||
		    (ret = parse_list(&p, root, CONTEXTS)))
			goto out;
	}
	if (index_contexts(p.kc)) {
		ret = oom(err);
		goto out;
	}
	*out = p.kc;
	p.kc = NULL;
	ret = 0;
out:
	fed_yaml_free(p.doc);
	free(p.dir);
	fed_kubeconfig_free(p.kc);
	return fed_kubeconfig_oneline(err, ret);
}

void fed_kubeconfig_free(struct fed_kubeconfig *kc)
{
	size_t i;

	if (!kc)
		return;
	for (i = 0; i < kc->nclusters; i++)
		free_cluster(&kc->clusters[i]);
	for (i = 0; i < kc->nusers; i++)
		free_user(&kc->users[i]);
	for (i = 0; i < kc->ncontexts; i++)
		free_context(&kc->contexts[i]);
	for (i = 0; i < kc->nsources; i++)
		free(kc->sources[i]);
	free(kc->clusters);
	free(kc->users);
	free(kc->contexts);
	free(kc->context_names);
	free(kc->current_context);
	free(kc->sources);
	free(kc);
}

const char *fed_kubeconfig_current_context(const struct fed_kubeconfig *kc)
{
	return kc ? kc->current_context : NULL;
}

const char *const *fed_kubeconfig_contexts(const struct fed_kubeconfig *kc, size_t *n)
{
	static const char *const none[] = {NULL};

	*n = kc ? kc->ncontexts : 0;
	return kc && kc->context_names ? kc->context_names : none;
}

int fed_kubeconfig_merge(struct fed_kubeconfig *dst, struct fed_kubeconfig *src)
{
	size_t i;
	char **s;
	int ret = FED_ENOMEM;

	s = realloc(dst->sources, (dst->nsources + src->nsources) * sizeof(char *));
	if (!s)
		goto out;
	dst->sources = s;
	for (i = 0; i < src->nsources; i++)
		dst->sources[dst->nsources++] = src->sources[i];
	src->nsources = 0; /* entries' src pointers now belong to dst */
	for (i = 0; i < src->nclusters; i++) {
		struct kc_cluster *c;
		if (find_line(dst, CLUSTERS, src->clusters[i].name) >= 0)
			continue;
		if (!(c = push((void **)&dst->clusters, &dst->nclusters, sizeof(*c))))
			goto out;
		*c = src->clusters[i];
		memset(&src->clusters[i], 0, sizeof(*c));
	}
	for (i = 0; i < src->nusers; i++) {
		struct kc_user *u;
		if (find_line(dst, USERS, src->users[i].name) >= 0)
			continue;
		if (!(u = push((void **)&dst->users, &dst->nusers, sizeof(*u))))
			goto out;
		*u = src->users[i];
		memset(&src->users[i], 0, sizeof(*u));
	}
	for (i = 0; i < src->ncontexts; i++) {
		struct kc_context *c;
		if (find_line(dst, CONTEXTS, src->contexts[i].name) >= 0)
			continue;
		if (!(c = push((void **)&dst->contexts, &dst->ncontexts, sizeof(*c))))
			goto out;
		*c = src->contexts[i];
		memset(&src->contexts[i], 0, sizeof(*c));
	}
	if (!dst->current_context) {
		dst->current_context = src->current_context;
		src->current_context = NULL;
	}
	ret = index_contexts(dst);
out:
	/* moved-out entries were zeroed: this frees only the shadowed ones */
	fed_kubeconfig_free(src);
	return ret;
}
