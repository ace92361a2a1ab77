/* Cluster connect's request head: the member and target of an aggregated
 * request, its caller, and the head fed sends the member (fed/connect.h).
 * Order matters for safety: everything a client could use to pick an
 * identity is removed before fed adds its own headers, so no later
 * processing of the result can remove fed's (CVE-2021-31999). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fed/connect.h"

static const char *const default_user[] = {"X-Remote-User"};
static const char *const default_group[] = {"X-Remote-Group"};
static const char *const default_extra[] = {"X-Remote-Extra-"};

static bool ieq(const char *a, size_t alen, const char *b)
{
	return strlen(b) == alen && !strncasecmp(a, b, alen);
}

static bool iprefix(const char *a, size_t alen, const char *p)
{
	size_t n = strlen(p);

	return alen >= n && !strncasecmp(a, p, n);
}

static void names_or_defaults(const struct fed_connect_names *in, struct fed_connect_names *out)
{
	out->user = in && in->nuser ? in->user : default_user;
	out->nuser = in && in->nuser ? in->nuser : 1;
	out->group = in && in->ngroup ? in->group : default_group;
	out->ngroup = in && in->ngroup ? in->ngroup : 1;
	out->extra_prefix = in && in->nextra_prefix ? in->extra_prefix : default_extra;
	out->nextra_prefix = in && in->nextra_prefix ? in->nextra_prefix : 1;
}

static bool in_names(const char *name, size_t n, const char *const *list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (ieq(name, n, list[i]))
			return true;
	return false;
}

/* The length of the extra prefix name starts with, or 0. */
static size_t extra_prefix(const char *name, size_t n, const struct fed_connect_names *nm)
{
	for (size_t i = 0; i < nm->nextra_prefix; i++)
		if (iprefix(name, n, nm->extra_prefix[i]) && n > strlen(nm->extra_prefix[i]))
			return strlen(nm->extra_prefix[i]);
	return 0;
}

static bool dns_label(const char *s, size_t n)
{
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

int fed_connect_target(const struct fed_http_request *req, char **cluster, char **target,
                       struct fed_error *err)
{
	static const char proxy[] = "/proxy";
	const char *p = req->path, *name, *rest;
	size_t plen = strlen(FED_CONNECT_PREFIX), n = req->path_len, nlen, rlen;
	char *c = NULL, *t = NULL;

	*cluster = *target = NULL;
	if (n <= plen || strncmp(p, FED_CONNECT_PREFIX, plen))
		return fed_error_set(err, FED_ENOTFOUND, "not a cluster proxy path");
	name = p + plen;
	rest = memchr(name, '/', n - plen);
	nlen = rest ? (size_t)(rest - name) : n - plen;
	rlen = rest ? n - plen - nlen : 0;
	if (!rest || rlen < sizeof(proxy) - 1 || strncmp(rest, proxy, sizeof(proxy) - 1) ||
	    (rlen > sizeof(proxy) - 1 && rest[sizeof(proxy) - 1] != '/'))
		return fed_error_set(err, FED_ENOTFOUND,
		                     "not a cluster proxy path: use " FED_CONNECT_PREFIX
		                     "NAME/proxy/PATH");
	if (!dns_label(name, nlen))
		return fed_error_set(err, FED_EINVAL,
		                     "cluster name in the path is not a DNS label (a-z, 0-9, '-', "
		                     "at most 63)");
	rest += sizeof(proxy) - 1;
	rlen -= sizeof(proxy) - 1;
	c = strndup(name, nlen);
	/* "/" when nothing follows .../proxy; the query as sent */
	t = malloc((rlen ? rlen : 1) + (req->query ? 1 + req->query_len : 0) + 1);
	if (!c || !t) {
		free(c);
		free(t);
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	}
	if (rlen)
		memcpy(t, rest, rlen);
	else
		t[rlen++] = '/';
	if (req->query) {
		t[rlen++] = '?';
		memcpy(t + rlen, req->query, req->query_len);
		rlen += req->query_len;
	}
	t[rlen] = '\0';
	*cluster = c;
	*target = t;
	return 0;
}

static bool token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-.^_`|~", c);
}

static int push(char ***list, size_t *n, const char *v, size_t len)
{
	char **l = realloc(*list, (*n + 1) * sizeof(**list));

	if (!l)
		return FED_ENOMEM;
	*list = l;
	if (!(l[*n] = strndup(v, len)))
		return FED_ENOMEM;
	(*n)++;
	return 0;
}

int fed_connect_caller_parse(const struct fed_http_request *req,
                             const struct fed_connect_names *names, struct fed_connect_caller *out,
                             struct fed_error *err)
{
	struct fed_connect_names nm;
	size_t users = 0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	names_or_defaults(names, &nm);
	for (size_t i = 0; i < req->nheaders && !ret; i++) {
		const struct fed_http_header *h = &req->headers[i];
		size_t pre;

		if (in_names(h->name, h->name_len, nm.user, nm.nuser)) {
			users++;
			if (!out->user && h->value_len &&
			    !(out->user = strndup(h->value, h->value_len)))
				ret = FED_ENOMEM;
		} else if (in_names(h->name, h->name_len, nm.group, nm.ngroup)) {
			if (h->value_len >= 7 && !strncmp(h->value, "system:", 7))
				out->dropped_groups++;
			else if (h->value_len)
				ret = push(&out->groups, &out->ngroups, h->value, h->value_len);
		} else if ((pre = extra_prefix(h->name, h->name_len, &nm))) {
			struct fed_connect_extra *e;

			for (size_t k = pre; k < h->name_len; k++)
				if (!token_char(h->name[k]))
					return fed_error_set(
					    err, FED_EINVAL,
					    "front proxy extra header with a malformed key");
			e = realloc(out->extras, (out->nextras + 1) * sizeof(*e));
			if (!e) {
				ret = FED_ENOMEM;
				break;
			}
			out->extras = e;
			e += out->nextras;
			e->key = strndup(h->name + pre, h->name_len - pre);
			e->value = strndup(h->value, h->value_len);
			out->nextras++;
			for (char *k = e->key; k && *k; k++)
				if (*k >= 'A' && *k <= 'Z')
					*k = (char)(*k - 'A' + 'a');
			if (!e->key || !e->value)
				ret = FED_ENOMEM;
		}
	}
	if (ret)
		return fed_error_set(err, ret, "out of memory");
	if (users != 1 || !out->user)
		return fed_error_set(err, FED_EUNAUTHORIZED,
		                     users > 1 ? "the front proxy named more than one user"
		                               : "the front proxy named no user");
	if (!strncmp(out->user, "system:", 7))
		return fed_error_set(
		    err, FED_EFORBIDDEN,
		    "users in the system: namespace of the host are not carried to "
		    "members: use a user or group the member knows");
	return 0;
}

void fed_connect_caller_release(struct fed_connect_caller *c)
{
	if (!c)
		return;
	free(c->user);
	for (size_t i = 0; i < c->ngroups; i++)
		free(c->groups[i]);
	free(c->groups);
	for (size_t i = 0; i < c->nextras; i++) {
		free(c->extras[i].key);
		free(c->extras[i].value);
	}
	free(c->extras);
	memset(c, 0, sizeof(*c));
}

/* Headers fed sets or that belong to one hop: never passed on. */
static bool dropped(const char *name, size_t n, const struct fed_connect_names *nm)
{
	static const char *const hop[] = {
	    "connection", "keep-alive",          "proxy-connection", "te",   "trailer",
	    "upgrade",    "proxy-authorization", "authorization",    "host", "transfer-encoding",
	};

	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (ieq(name, n, hop[i]))
			return true;
	return iprefix(name, n, "impersonate-") || iprefix(name, n, "x-remote-") ||
	       in_names(name, n, nm->user, nm->nuser) || in_names(name, n, nm->group, nm->ngroup) ||
	       extra_prefix(name, n, nm) > 0;
}

/* Is name one of the comma-separated tokens of the Connection values? */
static bool named_by_connection(const struct fed_http_request *req, const char *name, size_t n)
{
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct fed_http_header *h = &req->headers[i];
		const char *p = h->value, *end = h->value + h->value_len;

		if (!ieq(h->name, h->name_len, "connection"))
			continue;
		while (p < end) {
			const char *e = memchr(p, ',', (size_t)(end - p));
			const char *a = p, *b = e ? e : end;

			while (a < b && (*a == ' ' || *a == '\t'))
				a++;
			while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
				b--;
			if ((size_t)(b - a) == n && !strncasecmp(a, name, n))
				return true;
			p = e ? e + 1 : end;
		}
	}
	return false;
}

/* The Upgrade fed passes on: SPDY/3.1 or websocket, requested with
 * "Connection: upgrade"; NULL for any other. */
static const struct fed_http_header *allowed_upgrade(const struct fed_http_request *req)
{
	const struct fed_http_header *up = NULL;

	for (size_t i = 0; i < req->nheaders; i++)
		if (ieq(req->headers[i].name, req->headers[i].name_len, "upgrade")) {
			if (up)
				return NULL; /* two: ambiguous */
			up = &req->headers[i];
		}
	if (!up || !named_by_connection(req, "upgrade", 7))
		return NULL;
	if (ieq(up->value, up->value_len, "SPDY/3.1") || ieq(up->value, up->value_len, "websocket"))
		return up;
	return NULL;
}

int fed_connect_rewrite(const struct fed_http_request *req, const char *target,
                        const struct fed_connect_caller *caller,
                        const struct fed_connect_names *names,
                        const struct fed_connect_upstream *up, bool *upgrade, struct fed_buf *out,
                        struct fed_error *err)
{
	const struct fed_http_header *u = allowed_upgrade(req);
	struct fed_connect_names nm;
	size_t start = out->len;
	int ret = 0;

	*upgrade = false;
	if (!caller || !caller->user || !*caller->user)
		return fed_error_set(err, FED_EINVAL, "no caller to impersonate");
	names_or_defaults(names, &nm);
	ret |=
	    fed_buf_printf(out, "%.*s %s HTTP/1.1\r\n", (int)req->method_len, req->method, target);
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct fed_http_header *h = &req->headers[i];

		if (dropped(h->name, h->name_len, &nm) ||
		    named_by_connection(req, h->name, h->name_len))
			continue;
		ret |= fed_buf_printf(out, "%.*s: %.*s\r\n", (int)h->name_len, h->name,
		                      (int)h->value_len, h->value);
	}
	ret |= fed_buf_printf(out, "Host: %s\r\n", up->host);
	/* an upgraded connection is the caller's alone: refused, it closes
	 * (other requests keep the member connection alive for the next one,
	 * each head rewritten here: the caller's bytes past a request's body
	 * never reach the member as they are) */
	if (u) {
		ret |= fed_buf_printf(out, "Connection: Upgrade, close\r\nUpgrade: %.*s\r\n",
		                      (int)u->value_len, u->value);
		*upgrade = true;
	}
	if (up->bearer)
		ret |= fed_buf_printf(out, "Authorization: Bearer %s\r\n", up->bearer);
	ret |= fed_buf_printf(out, "Impersonate-User: %s\r\n", caller->user);
	for (size_t i = 0; i < caller->ngroups; i++)
		ret |= fed_buf_printf(out, "Impersonate-Group: %s\r\n", caller->groups[i]);
	for (size_t i = 0; i < caller->nextras; i++)
		ret |= fed_buf_printf(out, "Impersonate-Extra-%s: %s\r\n", caller->extras[i].key,
		                      caller->extras[i].value);
	ret |= fed_buf_append(out, "\r\n", 2);
	if (ret) {
		out->len = start;
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	}
	return 0;
}
