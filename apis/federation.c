/* The Federation document: tables for the mapper, cluster validation, and
 * the rule that one bad cluster entry spoils only itself. Addresses (CIDRs,
 * server URLs, address selection) are in federation_net.c. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fed/federation.h"
#include "fed/map.h"
#include "fed/yaml.h"
#include "yaml_map.h"

/* The mapper stores enums as int. */
_Static_assert(sizeof(enum fed_cluster_mode) == sizeof(int), "enum fed_cluster_mode is an int");

#define QUOTE_MAX 128

#define NAME_RULE                                                                                  \
	"a cluster name must consist of lower case alphanumeric characters, '-' or '.', and "      \
	"must start and end with an alphanumeric character"

struct meta {
	char *name;
};

struct tunnel_spec {
	char *proxy_publish_address;
};

struct spec {
	struct fed_federation *f;
	struct tunnel_spec tunnel;
	/* valid cluster names seen so far -> (void *)(index + 1) */
	struct fed_map names;
};

struct top {
	char *api_version;
	char *kind;
	struct meta metadata;
	struct spec spec;
};

/* What a cluster entry is filled into: the spec, plus what its checks
 * need to see of the whole document. */
struct cluster_parse {
	struct fed_cluster_spec c;
	struct spec *owner;
	size_t index;
};

static int oom(struct fed_error *err)
{
	return fed_error_set(err, FED_ENOMEM, "out of memory");
}

static bool is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* RFC 1123 subdomain, as Kubernetes checks object names: dot-separated
 * parts of [a-z0-9-], each starting and ending alphanumeric. */
static bool valid_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		bool edge = i == 0 || i + 1 == n || s[i - 1] == '.' || s[i + 1] == '.';
		if (is_alnum(s[i]))
			continue;
		if ((s[i] != '-' && s[i] != '.') || edge)
			return false;
	}
	return true;
}

/* A valid name close to s ("Cluster_1" -> "cluster-1"), or "" when none. */
static void suggest_name(const char *s, char *out, size_t size)
{
	size_t o = 0;
	bool part = false; /* inside a part that has an alphanumeric */

	for (; *s && o + 1 < size && o < FED_CLUSTER_NAME_MAX; s++) {
		char ch = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;

		if (is_alnum(ch)) {
			out[o++] = ch;
			part = true;
		} else if (ch == '.') {
			while (o > 0 && out[o - 1] == '-')
				o--;
			if (part)
				out[o++] = '.';
			part = false;
		} else if (part && out[o - 1] != '-') {
			out[o++] = '-';
		}
	}
	while (o > 0 && (out[o - 1] == '-' || out[o - 1] == '.'))
		o--;
	out[o] = '\0';
}

static int check_name(struct fed_yaml_map *m, struct fy_node *value, void *base,
                      struct fed_error *err)
{
	struct cluster_parse *cp = base;
	const char *name = cp->c.name;
	char q[QUOTE_MAX], hint[FED_CLUSTER_NAME_MAX + 1];
	size_t len = strlen(name);
	uintptr_t first;

	fed_yaml_map_quote(q, sizeof(q), name, len);
	if (len > FED_CLUSTER_NAME_MAX)
		return fed_yaml_map_error(m, value, err, FED_EINVAL,
		                          "%s is %zu characters long; a cluster name must be at "
		                          "most %d characters (it is used in label values)",
		                          q, len, FED_CLUSTER_NAME_MAX);
	if (!valid_name(name)) {
		suggest_name(name, hint, sizeof(hint));
		if (*hint)
			return fed_yaml_map_error(m, value, err, FED_EINVAL,
			                          "%s is not a valid cluster name: " NAME_RULE
			                          "; did you mean \"%s\"?",
			                          q, hint);
		return fed_yaml_map_error(
		    m, value, err, FED_EINVAL,
		    "%s is not a valid cluster name: " NAME_RULE " (e.g. \"cluster-1\")", q);
	}
	first = (uintptr_t)fed_map_get(&cp->owner->names, name);
	if (first) {
		const struct fed_cluster_spec *c = &cp->owner->f->clusters[first - 1];
		return fed_yaml_map_error(m, value, err, FED_EINVAL,
		                          "%s is already the name of spec.clusters[%zu] (line %d); "
		                          "cluster names must be unique: rename or remove one of "
		                          "them",
		                          q, (size_t)(first - 1), c->line);
	}
	if (fed_map_put(&cp->owner->names, name, (void *)(uintptr_t)(cp->index + 1), NULL))
		return oom(err);
	return 0;
}

static int check_cidr(struct fed_yaml_map *m, struct fy_node *value, void *base,
                      struct fed_error *err)
{
	struct fed_server_address *a = base;
	struct fed_error sub = FED_ERROR_INIT;
	int ret = fed_cidr_parse(a->client_cidr, &a->cidr, &sub);

	if (ret == FED_ENOMEM)
		return oom(err);
	return ret ? fed_yaml_map_error(m, value, err, ret, "%s", sub.msg) : 0;
}

static int check_server(struct fed_yaml_map *m, struct fy_node *value, void *base,
                        struct fed_error *err)
{
	struct fed_server_address *a = base;
	struct fed_error sub = FED_ERROR_INIT;
	int ret = fed_server_url(a->server_address, &a->server_url, &sub);

	if (ret == FED_ENOMEM)
		return oom(err);
	return ret ? fed_yaml_map_error(m, value, err, ret, "%s", sub.msg) : 0;
}

static const struct fed_yaml_map_field addr_fields[] = {
    {
        .key = "clientCIDR",
        .type = FED_YAML_MAP_STRING,
        .offset = offsetof(struct fed_server_address, client_cidr),
        .required = true,
        .desc = "clients in this network use serverAddress, e.g. 0.0.0.0/0",
        .check = check_cidr,
    },
    {
        .key = "serverAddress",
        .type = FED_YAML_MAP_STRING,
        .offset = offsetof(struct fed_server_address, server_address),
        .required = true,
        .desc = "the member's API server, e.g. https://10.0.1.1:6443",
        .check = check_server,
    },
    {.key = NULL},
};

static int addr_item(struct fed_yaml_map *m, struct fy_node *item, size_t index, size_t count,
                     void *base, struct fed_error *err)
{
	struct fed_cluster_spec *c = &((struct cluster_parse *)base)->c;

	if (index == 0 && !(c->addrs = calloc(count, sizeof(*c->addrs))))
		return oom(err);
	c->n_addrs++;
	if (fed_yaml_kind(item) != FED_YAML_MAP)
		return fed_yaml_map_error(m, item, err, FED_EINVAL,
		                          "must be a mapping with clientCIDR and serverAddress, "
		                          "not %s",
		                          fed_yaml_kind_name(fed_yaml_kind(item)));
	return fed_yaml_map_fill(m, item, addr_fields, &c->addrs[index], err);
}

static const char *const mode_names[] = {"direct", "agent", NULL};

static const struct fed_yaml_map_field cluster_fields[] = {
    {
        .key = "clusterName",
        .type = FED_YAML_MAP_STRING,
        .offset = offsetof(struct cluster_parse, c.name),
        .required = true,
        .desc = "the member's name, e.g. cluster1",
        .check = check_name,
    },
    {
        .key = "mode",
        .type = FED_YAML_MAP_ENUM,
        .offset = offsetof(struct cluster_parse, c.mode),
        .desc = "direct (default) or agent",
        .values = mode_names,
    },
    {
        .key = "disabled",
        .type = FED_YAML_MAP_BOOL,
        .offset = offsetof(struct cluster_parse, c.disabled),
        .desc = "true keeps the member in the list but stops syncing to it",
    },
    {
        .key = "serverAddressByClientCIDRs",
        .type = FED_YAML_MAP_SEQ,
        .offset = offsetof(struct cluster_parse, c.addrs),
        .desc = "where to reach the member's API server, by client network",
        .item = addr_item,
        .max_items = FED_CLUSTER_MAX_ADDRS,
    },
    {.key = NULL},
};

/* Rules between fields, once the entry has been read. */
static int check_cluster(struct fed_yaml_map *m, struct fy_node *item, struct fed_cluster_spec *c,
                         struct fed_error *err)
{
	if (c->mode == FED_CLUSTER_DIRECT && c->n_addrs == 0)
		return fed_yaml_map_error(
		    m, item, err, FED_EINVAL,
		    "a direct cluster needs serverAddressByClientCIDRs (where its API server "
		    "is): add \"serverAddressByClientCIDRs: [{clientCIDR: 0.0.0.0/0, "
		    "serverAddress: https://<api-server>:6443}]\", or set \"mode: agent\"");
	return 0;
}

static bool good_name(const char *s, size_t len)
{
	return len <= FED_CLUSTER_NAME_MAX && !memchr(s, '\0', len) && valid_name(s);
}

/* A failed entry keeps its name only if it is a valid one (so that the
 * controller can say which cluster is broken, and never logs whatever an
 * invalid name holds); it may come from before the fill stopped or be
 * read here. */
static int failed_name(struct fy_node *item, struct fed_cluster_spec *c)
{
	const char *s;
	size_t len;

	if (c->name && !good_name(c->name, strlen(c->name))) {
		free(c->name);
		c->name = NULL;
	}
	if (c->name)
		return 0;
	s = fed_yaml_scalar(fed_yaml_get(item, "clusterName"), &len);
	if (!s || len == 0 || len > FED_CLUSTER_NAME_MAX)
		return 0;
	if (!(c->name = strndup(s, len)))
		return FED_ENOMEM;
	if (!good_name(c->name, len)) {
		free(c->name);
		c->name = NULL;
	}
	return 0;
}

static int cluster_item(struct fed_yaml_map *m, struct fy_node *item, size_t index, size_t count,
                        void *base, struct fed_error *err)
{
	struct spec *s = base;
	struct fed_federation *f = s->f;
	struct cluster_parse cp;
	int ret, col;

	memset(&cp, 0, sizeof(cp));
	cp.owner = s;
	cp.index = index;
	if (index == 0 && !(f->clusters = calloc(count, sizeof(*f->clusters))))
		return oom(err);
	fed_yaml_mark(item, &cp.c.line, &col);
	if (fed_yaml_kind(item) != FED_YAML_MAP)
		ret = fed_yaml_map_error(m, item, &cp.c.err, FED_EINVAL,
		                         "must be a mapping with clusterName and "
		                         "serverAddressByClientCIDRs, not %s",
		                         fed_yaml_kind_name(fed_yaml_kind(item)));
	else if (!(ret = fed_yaml_map_fill(m, item, cluster_fields, &cp, &cp.c.err)))
		ret = check_cluster(m, item, &cp.c, &cp.c.err);
	if (ret && ret != FED_ENOMEM && failed_name(item, &cp.c))
		ret = FED_ENOMEM;
	/* a broken entry still claims its name: when the user fixes it, the
	 * later entry with that name would be the duplicate anyway */
	if (ret && ret != FED_ENOMEM && cp.c.name && !fed_map_get(&s->names, cp.c.name) &&
	    fed_map_put(&s->names, cp.c.name, (void *)(uintptr_t)(index + 1), NULL))
		ret = FED_ENOMEM;
	/* f owns what was read, from here on, whatever happened */
	f->clusters[f->n++] = cp.c;
	/* the entry is invalid; the document only fails for lack of memory */
	return ret == FED_ENOMEM ? oom(err) : 0;
}

static const struct fed_yaml_map_field meta_fields[] = {
    {
        .key = "name",
        .type = FED_YAML_MAP_STRING,
        .offset = offsetof(struct meta, name),
        .desc = "the federation's name",
    },
    {.key = NULL},
};

/* HOST:PORT or [IPv6]:PORT; the host's form is the agent's business. */
static int check_publish(struct fed_yaml_map *m, struct fy_node *value, void *base,
                         struct fed_error *err)
{
	const char *s = ((struct tunnel_spec *)base)->proxy_publish_address;
	const char *colon = s[0] == '[' ? strstr(s, "]:") : strrchr(s, ':');
	const char *p;
	long port = 0;

	if (colon && s[0] == '[')
		colon++;
	if (colon && colon > s && (s[0] == '[' || strchr(s, ':') == colon) && colon[1]) {
		for (p = s; p < colon; p++)
			if ((unsigned char)*p <= ' ' || *p == '/' || *p == '@' || *p == '"')
				break;
		if (p == colon)
			for (p = colon + 1; *p >= '0' && *p <= '9' && port <= 65535; p++)
				port = port * 10 + (*p - '0');
		if (*p || port < 1 || port > 65535)
			port = 0;
	}
	if (port)
		return 0;
	return fed_yaml_map_error(m, value, err, FED_EINVAL,
	                          "must be HOST:PORT where agents reach the tunnel (e.g. "
	                          "tunnel.example.com:8080 or [2001:db8::1]:8080), without a "
	                          "scheme");
}

static const struct fed_yaml_map_field tunnel_fields[] = {
    {
        .key = "proxyPublishAddress",
        .type = FED_YAML_MAP_STRING,
        .offset = offsetof(struct tunnel_spec, proxy_publish_address),
        .desc = "HOST:PORT where agents reach the controller's tunnel",
        .check = check_publish,
    },
    {.key = NULL},
};

static const struct fed_yaml_map_field spec_fields[] = {
    {
        .key = "clusters",
        .type = FED_YAML_MAP_SEQ,
        .offset = offsetof(struct spec, f),
        .desc = "the member clusters",
        .item = cluster_item,
        .max_items = FED_FEDERATION_MAX_CLUSTERS,
    },
    {
        .key = "tunnel",
        .type = FED_YAML_MAP_MAPPING,
        .offset = offsetof(struct spec, tunnel),
        .desc = "agent mode: tunnel.proxyPublishAddress",
        .fields = tunnel_fields,
    },
    {.key = NULL},
};

/* apiVersion and kind are checked on the node's text, so they can run
 * before the mapper too: on the wrong kind of document, "apiVersion is
 * wrong" says more than "unknown key data". */
static int check_const(struct fed_yaml_map *m, struct fy_node *value, const char *want,
                       struct fed_error *err)
{
	char q[QUOTE_MAX];
	const char *s;
	size_t len;

	s = fed_yaml_scalar(value, &len);
	if (s && len == strlen(want) && !memcmp(s, want, len))
		return 0;
	if (!s)
		return fed_yaml_map_error(m, value, err, FED_EINVAL, "must be %s, not %s", want,
		                          fed_yaml_kind_name(fed_yaml_kind(value)));
	return fed_yaml_map_error(m, value, err, FED_EINVAL, "must be %s, not %s", want,
	                          fed_yaml_map_quote(q, sizeof(q), s, len));
}

static int check_api_version(struct fed_yaml_map *m, struct fy_node *value, void *base,
                             struct fed_error *err)
{
	return check_const(m, value, FED_FEDERATION_API_VERSION, err);
}

static int check_kind(struct fed_yaml_map *m, struct fy_node *value, void *base,
                      struct fed_error *err)
{
	return check_const(m, value, FED_FEDERATION_KIND, err);
}

static const struct fed_yaml_map_field top_fields[] = {
    {
        .key = "apiVersion",
        .type = FED_YAML_MAP_STRING,
        .offset = offsetof(struct top, api_version),
        .required = true,
        .desc = FED_FEDERATION_API_VERSION,
        .check = check_api_version,
    },
    {
        .key = "kind",
        .type = FED_YAML_MAP_STRING,
        .offset = offsetof(struct top, kind),
        .required = true,
        .desc = FED_FEDERATION_KIND,
        .check = check_kind,
    },
    {
        .key = "metadata",
        .type = FED_YAML_MAP_MAPPING,
        .offset = offsetof(struct top, metadata),
        .desc = "the federation's name",
        .fields = meta_fields,
    },
    {
        .key = "spec",
        .type = FED_YAML_MAP_MAPPING,
        .offset = offsetof(struct top, spec),
        .required = true,
        .desc = "spec.clusters lists the member clusters",
        .fields = spec_fields,
    },
    {.key = NULL},
};

static int check_header(struct fed_yaml_map *m, struct fy_node *root, const char *key,
                        fed_yaml_map_check_fn check, struct fed_error *err)
{
	struct fy_node *v = fed_yaml_get(root, key);
	size_t len = m->path.len;
	int ret;

	if (fed_yaml_kind(v) != FED_YAML_SCALAR)
		return 0; /* missing or of the wrong type: the mapper says so */
	if (fed_yaml_map_push_key(m, key))
		return oom(err);
	ret = check(m, v, NULL, err);
	fed_yaml_map_pop(m, len);
	return ret;
}

int fed_federation_parse(struct fed_federation **out, const char *yaml, size_t len,
                         const char *source, struct fed_error *err)
{
	struct fed_yaml_doc *doc = NULL;
	struct fed_federation *f = NULL;
	struct fed_yaml_map m;
	struct fy_node *root;
	struct top top;
	int ret;

	*out = NULL;
	memset(&top, 0, sizeof(top));
	fed_map_init(&top.spec.names);
	fed_yaml_map_init(&m, NULL);
	if (!(f = calloc(1, sizeof(*f)))) {
		ret = oom(err);
		goto out;
	}
	top.spec.f = f;
	if ((ret = fed_yaml_parse(&doc, yaml, len, source, err)))
		goto out;
	m.doc = doc;
	root = fed_yaml_root(doc);
	if (fed_yaml_kind(root) == FED_YAML_NULL) {
		ret = fed_yaml_map_error(&m, NULL, err, FED_EINVAL,
		                         "empty document; expected a Federation (apiVersion: "
		                         "%s, kind: %s, spec.clusters)",
		                         FED_FEDERATION_API_VERSION, FED_FEDERATION_KIND);
		goto out;
	}
	if (fed_yaml_kind(root) != FED_YAML_MAP) {
		ret = fed_yaml_map_error(&m, root, err, FED_EINVAL,
		                         "must be a Federation mapping (apiVersion: %s, kind: %s, "
		                         "spec.clusters), not %s",
		                         FED_FEDERATION_API_VERSION, FED_FEDERATION_KIND,
		                         fed_yaml_kind_name(fed_yaml_kind(root)));
		goto out;
	}
	if ((ret = check_header(&m, root, "apiVersion", check_api_version, err)) ||
	    (ret = check_header(&m, root, "kind", check_kind, err)) ||
	    (ret = fed_yaml_map_fill(&m, root, top_fields, &top, err)))
		goto out;
	f->name = top.metadata.name;
	top.metadata.name = NULL;
	f->proxy_publish_address = top.spec.tunnel.proxy_publish_address;
	top.spec.tunnel.proxy_publish_address = NULL;
	*out = f;
	f = NULL;
out:
	fed_yaml_map_free_fields(top_fields, &top);
	fed_map_release(&top.spec.names, NULL);
	fed_yaml_map_release(&m);
	fed_yaml_free(doc);
	fed_federation_free(f);
	return ret;
}

void fed_federation_free(struct fed_federation *f)
{
	size_t i, j;

	if (!f)
		return;
	for (i = 0; i < f->n; i++) {
		struct fed_cluster_spec *c = &f->clusters[i];

		for (j = 0; j < c->n_addrs; j++) {
			free(c->addrs[j].client_cidr);
			free(c->addrs[j].server_address);
			free(c->addrs[j].server_url);
		}
		free(c->addrs);
		free(c->name);
	}
	free(f->clusters);
	free(f->name);
	free(f->proxy_publish_address);
	free(f);
}
