/* fedctl's text output: pure functions from cJSON to text (no I/O, no
 * clock: "now" is a parameter), golden-tested by
 * tests/unit/test_fedctl_output.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fed/table.h"
#include "fedctl.h"

int fedctl_output_parse(const char *s, enum fedctl_output *out)
{
	static const char *const names[] = {"table", "wide", "json", "yaml", "name"};
	size_t i;

	if (!s || !*s) {
		*out = FEDCTL_OUT_TABLE;
		return 0;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i])) {
			*out = (enum fedctl_output)i;
			return 0;
		}
	return -1;
}

/* ---- YAML ------------------------------------------------------------- */

static bool yaml_plain_ok(const char *s)
{
	static const char *const reserved[] = {"true", "false", "yes",  "no", "on", "off",
	                                       "y",    "n",     "null", "~",  NULL};
	const char *p;
	size_t i, len = strlen(s);
	char *end;

	if (!len || s[0] == ' ' || s[len - 1] == ' ' || s[len - 1] == ':')
		return false;
	for (i = 0; reserved[i]; i++)
		if (!strcasecmp(s, reserved[i]))
			return false;
	/* numbers, dates and times would come back as something else */
	if ((s[0] >= '0' && s[0] <= '9') || s[0] == '.' || s[0] == '+' || s[0] == '-')
		return false;
	strtod(s, &end);
	if (!*end)
		return false;
	if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ/_", s[0]))
		return false;
	for (p = s; *p; p++) {
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
		            "._/:-@+=,()",
		            *p))
			return false;
		if ((*p == ':' && p[1] == ' ') || (*p == ' ' && p[1] == '#'))
			return false;
	}
	return true;
}

static int yaml_scalar(struct fed_buf *b, const cJSON *v)
{
	char *s;
	int ret;

	if (cJSON_IsString(v) && yaml_plain_ok(v->valuestring))
		return fed_buf_puts(b, v->valuestring);
	if (cJSON_IsNull(v))
		return fed_buf_puts(b, "null");
	s = cJSON_PrintUnformatted(v); /* JSON strings are YAML double-quoted strings */
	if (!s)
		return FED_ENOMEM;
	ret = fed_buf_puts(b, s);
	cJSON_free(s);
	return ret;
}

static int yaml_seq(struct fed_buf *b, const cJSON *arr, int indent);

/* A key plain when that reads back the same, else a JSON string (a YAML
 * double-quoted one: a kubeconfig's keys are anyone's). */
static int yaml_key(struct fed_buf *b, const char *k)
{
	cJSON *s;
	int ret;

	if (yaml_plain_ok(k))
		return fed_buf_puts(b, k);
	s = cJSON_CreateString(k);
	ret = s ? yaml_scalar(b, s) : FED_ENOMEM;
	cJSON_Delete(s);
	return ret;
}

/* A mapping whose first key goes where the cursor is (after "- ") when
 * inline is set. */
static int yaml_map(struct fed_buf *b, const cJSON *obj, int indent, bool inline_first)
{
	const cJSON *c;
	bool first = true;

	cJSON_ArrayForEach(c, obj) {
		if (!(first && inline_first) && fed_buf_printf(b, "%*s", indent, "") < 0)
			return FED_ENOMEM;
		first = false;
		if (yaml_key(b, c->string))
			return FED_ENOMEM;
		if (fed_buf_puts(b, ":"))
			return FED_ENOMEM;
		if (cJSON_IsObject(c) && c->child) {
			if (fed_buf_puts(b, "\n") || yaml_map(b, c, indent + 2, false))
				return FED_ENOMEM;
		} else if (cJSON_IsArray(c) && c->child) {
			if (fed_buf_puts(b, "\n") || yaml_seq(b, c, indent))
				return FED_ENOMEM;
		} else if (cJSON_IsObject(c)) {
			if (fed_buf_puts(b, " {}\n"))
				return FED_ENOMEM;
		} else if (cJSON_IsArray(c)) {
			if (fed_buf_puts(b, " []\n"))
				return FED_ENOMEM;
		} else if (fed_buf_puts(b, " ") || yaml_scalar(b, c) || fed_buf_puts(b, "\n")) {
			return FED_ENOMEM;
		}
	}
	return 0;
}

static int yaml_seq(struct fed_buf *b, const cJSON *arr, int indent)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, arr) {
		if (fed_buf_printf(b, "%*s- ", indent, "") < 0)
			return FED_ENOMEM;
		if (cJSON_IsObject(c) && c->child) {
			if (yaml_map(b, c, indent + 2, true))
				return FED_ENOMEM;
		} else if (cJSON_IsArray(c) && c->child) {
			b->len -= 1; /* "-" then the nested list below */
			if (fed_buf_puts(b, "\n") || yaml_seq(b, c, indent + 2))
				return FED_ENOMEM;
		} else if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
			if (fed_buf_puts(b, cJSON_IsObject(c) ? "{}\n" : "[]\n"))
				return FED_ENOMEM;
		} else if (yaml_scalar(b, c) || fed_buf_puts(b, "\n")) {
			return FED_ENOMEM;
		}
	}
	return 0;
}

int fedctl_yaml(struct fed_buf *out, const cJSON *v)
{
	if (cJSON_IsObject(v) && v->child)
		return yaml_map(out, v, 0, false);
	if (cJSON_IsArray(v) && v->child)
		return yaml_seq(out, v, 0);
	if (cJSON_IsObject(v) || cJSON_IsArray(v))
		return fed_buf_puts(out, cJSON_IsObject(v) ? "{}\n" : "[]\n");
	if (yaml_scalar(out, v))
		return FED_ENOMEM;
	return fed_buf_puts(out, "\n");
}

static int json_print_value(struct fed_buf *b, const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);
	int ret;

	if (!s)
		return FED_ENOMEM;
	ret = fed_buf_puts(b, s);
	cJSON_free(s);
	return ret;
}

static int json_node(struct fed_buf *b, const cJSON *v, int indent)
{
	bool obj = cJSON_IsObject(v);
	const cJSON *c;

	if (!(obj || cJSON_IsArray(v)))
		return json_print_value(b, v);
	if (!v->child)
		return fed_buf_puts(b, obj ? "{}" : "[]");
	if (fed_buf_puts(b, obj ? "{\n" : "[\n"))
		return FED_ENOMEM;
	cJSON_ArrayForEach(c, v) {
		if (fed_buf_printf(b, "%*s", indent + 4, "") < 0)
			return FED_ENOMEM;
		if (obj) {
			cJSON *k = cJSON_CreateString(c->string);
			int ret = k ? json_print_value(b, k) : FED_ENOMEM;
			cJSON_Delete(k);
			if (ret || fed_buf_puts(b, ": "))
				return FED_ENOMEM;
		}
		if (json_node(b, c, indent + 4) || fed_buf_puts(b, c->next ? ",\n" : "\n"))
			return FED_ENOMEM;
	}
	return fed_buf_printf(b, "%*s%s", indent, "", obj ? "}" : "]") < 0 ? FED_ENOMEM : 0;
}

/* kubectl's JSON: 4 spaces, "key": value. */
int fedctl_json(struct fed_buf *out, const cJSON *v)
{
	return json_node(out, v, 0) || fed_buf_puts(out, "\n") ? FED_ENOMEM : 0;
}

/* ---- KubeFedCluster fields ---------------------------------------------- */

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str(const cJSON *o, const char *dotted)
{
	return fed_obj_str(o, dotted);
}

static const cJSON *condition(const cJSON *kfc, const char *type)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, get(get(kfc, "status"), "conditions")) {
		const char *t = str(c, "type");
		if (t && !strcmp(t, type))
			return c;
	}
	return NULL;
}

/* Reasons that mean the member is not contacted at all (docs/api.md). */
static bool config_problem(const char *reason)
{
	static const char *const reasons[] = {"InvalidConfig",
	                                      "InvalidKubeconfig",
	                                      "MissingKubeconfig",
	                                      "NoMatchingClientCIDR",
	                                      "ClusterDisabled",
	                                      "AgentNotConnected",
	                                      NULL};
	size_t i;

	for (i = 0; reason && reasons[i]; i++)
		if (!strcmp(reason, reasons[i]))
			return true;
	return false;
}

static const char *or_none(const char *s)
{
	return s && *s ? s : "<none>";
}

static void number(char *out, size_t n, const cJSON *v)
{
	if (cJSON_IsNumber(v))
		snprintf(out, n, "%.0f", v->valuedouble);
	else if (cJSON_IsString(v))
		snprintf(out, n, "%s", v->valuestring);
	else
		snprintf(out, n, "<none>");
}

const char *fedctl_cluster_status(const cJSON *kfc)
{
	const cJSON *ready = condition(kfc, "Ready");
	const char *reason = str(ready, "reason");
	const char *cs = str(kfc, "status.connectivityStatus");

	if (config_problem(reason))
		return reason;
	return cs && *cs ? cs : "Unknown";
}

const char *fedctl_cluster_connect(const cJSON *kfc)
{
	const char *c = str(kfc, "status.clusterConnect");

	return c && *c ? c : "-";
}

int fedctl_format_clusters(struct fed_buf *out, const cJSON *items, enum fedctl_output o,
                           time_t now)
{
	static const char *const hdr[] = {
	    "NAME",      "MODE",    "STATUS",  "READY",        "VERSION",        "NODES", "AGE",
	    "LAST-SEEN", "CONNECT", "ADDRESS", "DISTRIBUTION", "INFRASTRUCTURE", NULL};
	const char *cols[FED_TABLE_MAX_COLS + 1];
	struct fed_table t;
	const cJSON *it;
	int ret;

	if (o == FEDCTL_OUT_JSON || o == FEDCTL_OUT_YAML) {
		cJSON *list = cJSON_CreateObject(), *arr;
		cJSON_AddStringToObject(list, "apiVersion", "v1");
		arr = cJSON_AddArrayToObject(list, "items");
		cJSON_ArrayForEach(it, items) {
			/* only real objects: rows without a KubeFedCluster yet carry no kind */
			if (str(it, "kind"))
				cJSON_AddItemToArray(arr, cJSON_Duplicate(it, true));
		}
		cJSON_AddStringToObject(list, "kind", "List");
		cJSON_AddItemToObject(cJSON_AddObjectToObject(list, "metadata"), "resourceVersion",
		                      cJSON_CreateString(""));
		ret = o == FEDCTL_OUT_JSON ? fedctl_json(out, list) : fedctl_yaml(out, list);
		cJSON_Delete(list);
		return ret;
	}
	if (o == FEDCTL_OUT_NAME) {
		cJSON_ArrayForEach(it, items) {
			if (fed_buf_printf(out, "kubefedcluster/%s\n", or_none(fed_obj_name(it))) <
			    0)
				return FED_ENOMEM;
		}
		return 0;
	}
	memcpy(cols, hdr, sizeof(cols[0]) * 9);
	if (o == FEDCTL_OUT_WIDE)
		memcpy(cols + 9, hdr + 9, sizeof(cols[0]) * 3), cols[12] = NULL;
	else
		cols[9] = NULL;
	if ((ret = fed_table_init(&t, cols)))
		return ret;
	cJSON_ArrayForEach(it, items) {
		const cJSON *ready = condition(it, "Ready");
		const char *mode = str(it, "spec.mode");
		const char *addr = str(it, "status.serverAddress");
		char nodes[32], age[32], seen[32];

		number(nodes, sizeof(nodes), get(get(it, "status"), "totalNodeCount"));
		fed_age_since(age, sizeof(age), str(it, "metadata.creationTimestamp"), now);
		if (str(it, "status.lastConnectivityTime"))
			fed_age_since(seen, sizeof(seen), str(it, "status.lastConnectivityTime"),
			              now);
		else
			snprintf(seen, sizeof(seen), "<never>");
		if (!addr || !*addr)
			addr = str(it, "spec.apiEndpoint");
		cols[0] = or_none(fed_obj_name(it));
		cols[1] = mode && *mode ? mode : "direct";
		cols[2] = fedctl_cluster_status(it);
		cols[3] = str(ready, "status") ? str(ready, "status") : "Unknown";
		cols[4] = or_none(str(it, "status.kubernetesVersion"));
		cols[5] = nodes;
		cols[6] = age;
		cols[7] = seen;
		cols[8] = fedctl_cluster_connect(it);
		cols[9] = or_none(addr);
		cols[10] = or_none(str(it, "status.distribution"));
		cols[11] = or_none(str(it, "status.infrastructure"));
		if ((ret = fed_table_add(&t, cols)))
			break;
	}
	if (!ret)
		ret = fed_table_render(&t, out, NULL, 1);
	fed_table_release(&t);
	return ret;
}

/* ---- describe ------------------------------------------------------------ */

#define LABEL_W 22

static int field(struct fed_buf *b, int indent, const char *label, const char *value)
{
	return fed_buf_printf(b, "%*s%-*s%s\n", indent, "", LABEL_W - indent, label,
	                      or_none(value)) < 0;
}

/* "2026-11-23T17:40:10Z (5m ago)" */
static void when(char *out, size_t n, const char *ts, time_t now)
{
	char age[32];
	time_t t;

	if (!ts || fed_time_parse(ts, &t)) {
		snprintf(out, n, "%s", ts ? ts : "<none>");
		return;
	}
	fed_age_format(age, sizeof(age), (long long)(now - t));
	snprintf(out, n, "%s (%s ago)", ts, age);
}

static const char *event_time(const cJSON *e)
{
	const char *t = str(e, "lastTimestamp");

	if (!t || !*t)
		t = str(e, "eventTime");
	if (!t || !*t)
		t = str(e, "metadata.creationTimestamp");
	return t;
}

struct ev_row {
	const cJSON *e;
	time_t t;
	size_t i;
};

static int ev_cmp(const void *a, const void *b)
{
	const struct ev_row *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static int res_cmp(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	static const char *const keys[] = {"kind", "namespace", "name"};
	size_t i;

	for (i = 0; i < 3; i++) {
		const char *p = str(x, keys[i]), *q = str(y, keys[i]);
		int c = strcmp(p ? p : "", q ? q : "");
		if (c)
			return c;
	}
	return 0;
}

static int describe_addresses(struct fed_buf *b, const cJSON *entry, const cJSON *kfc)
{
	static const char *const hdr[] = {"CLIENT CIDR", "SERVER ADDRESS", "CHOSEN", NULL};
	const char *chosen = str(kfc, "status.serverAddress");
	const char *matched = str(kfc, "status.matchedClientCIDR");
	const cJSON *a, *addrs = get(entry, "addresses");
	struct fed_table t;
	bool marked = false;
	int ret;

	if (!cJSON_GetArraySize(addrs))
		return fed_buf_puts(b, "Server Addresses:     <none>\n");
	if (fed_buf_puts(b, "Server Addresses:\n") || (ret = fed_table_init(&t, hdr)))
		return FED_ENOMEM;
	cJSON_ArrayForEach(a, addrs) {
		const char *cidr = str(a, "clientCIDR"), *addr = str(a, "serverAddress");
		const char *url = str(a, "serverURL");
		const char *cells[3];
		bool is = !marked && chosen && matched && cidr && !strcmp(cidr, matched) &&
		          ((url && !strcmp(url, chosen)) || (addr && !strcmp(addr, chosen)));
		marked |= is;
		cells[0] = or_none(cidr);
		cells[1] = or_none(addr);
		cells[2] = is ? "*" : "";
		if ((ret = fed_table_add(&t, cells)))
			break;
	}
	if (!ret)
		ret = fed_table_render(&t, b, "  ", 1);
	fed_table_release(&t);
	return ret;
}

static int describe_conditions(struct fed_buf *b, const cJSON *kfc, time_t now)
{
	static const char *const hdr[] = {"TYPE",    "STATUS",          "REASON",
	                                  "MESSAGE", "LAST TRANSITION", NULL};
	const cJSON *c, *conds = get(get(kfc, "status"), "conditions");
	struct fed_table t;
	int ret;

	if (!cJSON_GetArraySize(conds))
		return fed_buf_puts(b, "Conditions:           <none>\n");
	if (fed_buf_puts(b, "Conditions:\n") || (ret = fed_table_init(&t, hdr)))
		return FED_ENOMEM;
	cJSON_ArrayForEach(c, conds) {
		char tt[96];
		const char *cells[5];
		when(tt, sizeof(tt), str(c, "lastTransitionTime"), now);
		cells[0] = or_none(str(c, "type"));
		cells[1] = or_none(str(c, "status"));
		cells[2] = or_none(str(c, "reason"));
		cells[3] = or_none(str(c, "message"));
		cells[4] = tt;
		if ((ret = fed_table_add(&t, cells)))
			break;
	}
	if (!ret)
		ret = fed_table_render(&t, b, "  ", 1);
	fed_table_release(&t);
	return ret;
}

static int describe_resources(struct fed_buf *b, const cJSON *res)
{
	static const char *const hdr[] = {"KIND", "NAMESPACE/NAME", "STATUS", "MESSAGE", NULL};
	const cJSON **rows;
	struct fed_table t;
	size_t i, n = (size_t)cJSON_GetArraySize(res);
	const cJSON *r;
	int ret;

	if (!n)
		return fed_buf_puts(b, "Federated Resources:  <none>\n");
	rows = calloc(n, sizeof(*rows));
	if (!rows)
		return FED_ENOMEM;
	i = 0;
	cJSON_ArrayForEach(r, res)
		rows[i++] = r;
	qsort(rows, n, sizeof(*rows), res_cmp);
	ret = fed_buf_puts(b, "Federated Resources:\n");
	if (!ret)
		ret = fed_table_init(&t, hdr);
	if (ret) {
		free(rows);
		return ret;
	}
	for (i = 0; i < n && !ret; i++) {
		const char *ns = str(rows[i], "namespace"), *st = str(rows[i], "status");
		const char *msg = str(rows[i], "message");
		char nn[600];
		const char *cells[4];
		snprintf(nn, sizeof(nn), "%s%s%s", ns && *ns ? ns : "", ns && *ns ? "/" : "",
		         or_none(str(rows[i], "name")));
		cells[0] = or_none(str(rows[i], "kind"));
		cells[1] = nn;
		cells[2] = st && *st ? st : "OK";
		cells[3] = msg ? msg : "";
		ret = fed_table_add(&t, cells);
	}
	if (!ret)
		ret = fed_table_render(&t, b, "  ", 1);
	fed_table_release(&t);
	free(rows);
	return ret;
}

static int describe_events(struct fed_buf *b, const cJSON *events, time_t now)
{
	static const char *const hdr[] = {"AGE", "TYPE", "REASON", "MESSAGE", NULL};
	size_t i, n = (size_t)cJSON_GetArraySize(events), first;
	struct ev_row *rows;
	struct fed_table t;
	const cJSON *e;
	int ret;

	if (!n)
		return fed_buf_puts(b, "Events:               <none>\n");
	rows = calloc(n, sizeof(*rows));
	if (!rows)
		return FED_ENOMEM;
	i = 0;
	cJSON_ArrayForEach(e, events) {
		rows[i].e = e;
		rows[i].i = i;
		if (fed_time_parse(event_time(e), &rows[i].t))
			rows[i].t = 0;
		i++;
	}
	qsort(rows, n, sizeof(*rows), ev_cmp);
	first = n > 10 ? n - 10 : 0;
	ret = fed_buf_puts(b, "Events:\n");
	if (!ret)
		ret = fed_table_init(&t, hdr);
	if (ret) {
		free(rows);
		return ret;
	}
	for (i = first; i < n && !ret; i++) {
		char age[32], msg[512];
		const char *cells[4], *m = str(rows[i].e, "message");
		const cJSON *count = get(rows[i].e, "count");
		char *nl;
		fed_age_since(age, sizeof(age), event_time(rows[i].e), now);
		snprintf(msg, sizeof(msg), "%s", m ? m : "");
		while ((nl = strchr(msg, '\n')))
			*nl = ' ';
		if (cJSON_IsNumber(count) && count->valuedouble > 1) {
			size_t l = strlen(msg);
			snprintf(msg + l, sizeof(msg) - l, " (x%.0f)", count->valuedouble);
		}
		cells[0] = age;
		cells[1] = or_none(str(rows[i].e, "type"));
		cells[2] = or_none(str(rows[i].e, "reason"));
		cells[3] = msg;
		ret = fed_table_add(&t, cells);
	}
	if (!ret)
		ret = fed_table_render(&t, b, "  ", 1);
	fed_table_release(&t);
	free(rows);
	return ret;
}

/* status.agent of a mode: agent cluster: what its fed-agent reports. */
static int describe_agent(struct fed_buf *b, const cJSON *agent, time_t now)
{
	char n[32], cores[32], nodes[32], cpu[32], mem[32], seen[128], exp[128];
	const cJSON *m = get(agent, "memoryBytes"), *c = get(agent, "cpuSeconds");
	int ret = 0;

	if (!agent)
		return 0;
	number(n, sizeof(n), get(agent, "connectedAgents"));
	number(nodes, sizeof(nodes), get(agent, "nodeCount"));
	number(cores, sizeof(cores), get(agent, "coreCount"));
	if (cJSON_IsNumber(c))
		snprintf(cpu, sizeof(cpu), "%.2fs", c->valuedouble);
	else
		snprintf(cpu, sizeof(cpu), "<none>");
	if (cJSON_IsNumber(m))
		snprintf(mem, sizeof(mem), "%.1fMi", m->valuedouble / (1024 * 1024));
	else
		snprintf(mem, sizeof(mem), "<none>");
	when(seen, sizeof(seen), str(agent, "lastHeartbeatTime"), now);
	when(exp, sizeof(exp), str(agent, "credentialExpiry"), now);
	{
		const char *ts = str(agent, "credentialExpiry");
		time_t t;
		char in[32];

		/* in the future: "(in 29d)" */
		if (ts && !fed_time_parse(ts, &t) && t > now) {
			fed_age_format(in, sizeof(in), (long long)(t - now));
			snprintf(exp, sizeof(exp), "%s (in %s)", ts, in);
		}
	}
	ret |= fed_buf_puts(b, "Agent:\n");
	ret |= field(b, 2, "Connected Agents:", n);
	ret |= field(b, 2, "Agent Version:", str(agent, "agentVersion"));
	ret |= field(b, 2, "Kubernetes Version:", str(agent, "kubernetesVersion"));
	ret |= field(b, 2, "Nodes:", nodes);
	ret |= field(b, 2, "Cores:", cores);
	ret |= field(b, 2, "Agent CPU:", cpu);
	ret |= field(b, 2, "Agent Memory:", mem);
	ret |= field(b, 2, "Last Heartbeat:", str(agent, "lastHeartbeatTime") ? seen : NULL);
	ret |= field(b, 2, "Credential Expires:", str(agent, "credentialExpiry") ? exp : NULL);
	return ret ? FED_ENOMEM : 0;
}

int fedctl_format_describe(struct fed_buf *b, const cJSON *d, time_t now)
{
	const cJSON *entry = get(d, "entry"), *kfc = get(d, "cluster");
	const cJSON *ready = condition(kfc, "Ready");
	const char *mode = str(entry, "mode");
	char tmp[128], cores[32], nodes[32];
	int ret = 0;

	if (!mode)
		mode = str(kfc, "spec.mode");
	when(tmp, sizeof(tmp), str(kfc, "metadata.creationTimestamp"), now);
	ret |= field(b, 0, "Name:", str(d, "name"));
	ret |= field(b, 0, "Namespace:", str(d, "namespace"));
	ret |= field(b, 0, "Mode:", mode ? mode : "direct");
	ret |= field(b, 0, "Disabled:", cJSON_IsTrue(get(entry, "disabled")) ? "true" : "false");
	if (str(entry, "error"))
		ret |= field(b, 0, "Config Error:", str(entry, "error"));
	ret |= field(b, 0, "Created:", kfc ? tmp : "<not yet reconciled by fed-controller>");
	if (kfc) {
		ret |= field(b, 0, "Status:", fedctl_cluster_status(kfc));
		ret |=
		    field(b, 0, "Ready:", str(ready, "status") ? str(ready, "status") : "Unknown");
	} else {
		/* not written yet: an invalid entry will get InvalidConfig */
		ret |= field(b, 0, "Status:", str(entry, "error") ? "InvalidConfig" : "Unknown");
		ret |= field(b, 0, "Ready:", str(entry, "error") ? "False" : "Unknown");
	}
	ret |= field(b, 0, "Cluster Connect:", fedctl_cluster_connect(kfc));
	ret |= field(b, 0, "Chosen Address:", str(kfc, "status.serverAddress"));
	ret |= field(b, 0, "Matched Client CIDR:", str(kfc, "status.matchedClientCIDR"));
	if (ret)
		return FED_ENOMEM;
	if ((ret = describe_addresses(b, entry, kfc)) || (ret = describe_conditions(b, kfc, now)))
		return ret;
	number(nodes, sizeof(nodes), get(get(kfc, "status"), "totalNodeCount"));
	number(cores, sizeof(cores), get(get(kfc, "status"), "totalCoreCount"));
	when(tmp, sizeof(tmp), str(kfc, "status.lastConnectivityTime"), now);
	ret |= fed_buf_puts(b, "Cluster Info:\n");
	ret |= field(b, 2, "Kubernetes Version:", str(kfc, "status.kubernetesVersion"));
	ret |= field(b, 2, "Distribution:", str(kfc, "status.distribution"));
	ret |= field(b, 2, "Infrastructure:", str(kfc, "status.infrastructure"));
	ret |= field(b, 2, "Nodes:", nodes);
	ret |= field(b, 2, "Cores:", cores);
	ret |= field(b, 2, "Last Connectivity:", tmp);
	if (ret)
		return FED_ENOMEM;
	if ((ret = describe_agent(b, get(get(kfc, "status"), "agent"), now)))
		return ret;
	if ((ret = describe_resources(b, get(d, "resources"))))
		return ret;
	return describe_events(b, get(d, "events"), now);
}
