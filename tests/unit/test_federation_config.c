/* apis/federation*.c and lib/yaml_map.c: the Federation document in
 * ConfigMap kube-system/kubefed-config, its per-cluster validation, server
 * address normalization and address selection; fixtures in
 * data/federation (see its README.md). */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fed/federation.h"
#include "yaml_map.h"

#define FIX "data/federation"
#define SRC "kubefed.yaml"

#define HEAD                                                                                       \
	"apiVersion: federation/v1beta1\n"                                                         \
	"kind: Federation\n"                                                                       \
	"spec:\n"                                                                                  \
	"  clusters:\n"

/* appended after a case, to show the bad entry did not spoil the rest */
#define GOOD                                                                                       \
	"  - clusterName: good\n"                                                                  \
	"    serverAddressByClientCIDRs:\n"                                                        \
	"    - clientCIDR: 0.0.0.0/0\n"                                                            \
	"      serverAddress: https://10.0.9.1:6443\n"

static char *read_fixture(const char *name, size_t *len)
{
	char path[256];
	FILE *f;
	char *data = NULL;
	long n;

	snprintf(path, sizeof(path), "%s/%s", FIX, name);
	if (!(f = fopen(path, "rb")))
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET) &&
	    (data = malloc((size_t)n + 1)) != NULL) {
		*len = fread(data, 1, (size_t)n, f);
		data[*len] = '\0';
	}
	fclose(f);
	return data;
}

static int parse(struct fed_federation **f, const char *yaml, struct fed_error *err)
{
	fed_error_clear(err);
	return fed_federation_parse(f, yaml, strlen(yaml), SRC, err);
}

/* ---- the document ---- */

static void test_seed(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_federation *f = NULL;
	size_t len = 0;
	char *yaml = read_fixture("kubefed.yaml", &len);

	CHECK(yaml);
	CHECK_INT(fed_federation_parse(&f, yaml, len, SRC, &err), 0);
	free(yaml);
	CHECK_STR(f->name, "federation");
	CHECK_INT(f->n, 2);
	CHECK_INT(f->clusters[0].err.code, 0);
	CHECK_INT(f->clusters[1].err.code, 0);
	CHECK_STR(f->clusters[0].name, "cluster1");
	CHECK_STR(f->clusters[1].name, "cluster2");
	CHECK_INT(f->clusters[0].mode, FED_CLUSTER_DIRECT);
	CHECK(!f->clusters[0].disabled);
	CHECK_INT(f->clusters[0].line, 8);
	CHECK_INT(f->clusters[1].line, 12);
	CHECK_INT(f->clusters[0].n_addrs, 1);
	CHECK_STR(f->clusters[0].addrs[0].client_cidr, "0.0.0.0/0");
	CHECK_INT(f->clusters[0].addrs[0].cidr.family, AF_INET);
	CHECK_INT(f->clusters[0].addrs[0].cidr.prefix, 0);
	CHECK_STR(f->clusters[0].addrs[0].server_address, "https://10.0.1.1:6443");
	CHECK_STR(f->clusters[0].addrs[0].server_url, "https://10.0.1.1:6443");
	CHECK_STR(f->clusters[1].addrs[0].server_url, "https://10.0.2.1:6443");
	fed_federation_free(f);
}

static void test_mixed(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_federation *f = NULL;
	size_t len = 0;
	char *yaml = read_fixture("mixed.yaml", &len);

	CHECK(yaml);
	CHECK_INT(fed_federation_parse(&f, yaml, len, SRC, &err), 0);
	free(yaml);
	CHECK_INT(f->n, 5);
	CHECK_INT(f->clusters[0].err.code, 0);
	CHECK_STR(f->clusters[0].addrs[0].server_url, "https://10.1.0.1:6443");
	CHECK_STR(f->clusters[0].addrs[1].server_url, "https://east.example.com:443");
	CHECK_INT(f->clusters[1].err.code, FED_EINVAL);
	CHECK_STR(f->clusters[1].name, "west");
	CHECK_STR(f->clusters[1].err.msg,
	          "kubefed.yaml:14:5: spec.clusters[1]: unknown key \"region\" (allowed: "
	          "clusterName, mode, disabled, serverAddressByClientCIDRs)");
	CHECK_INT(f->clusters[2].err.code, 0);
	CHECK_INT(f->clusters[2].mode, FED_CLUSTER_AGENT);
	CHECK_INT(f->clusters[2].n_addrs, 0);
	CHECK_INT(f->clusters[3].err.code, FED_EINVAL);
	CHECK_STR(f->clusters[3].err.msg,
	          "kubefed.yaml:20:18: spec.clusters[3].clusterName: \"east\" is already the name "
	          "of spec.clusters[0] (line 7); cluster names must be unique: rename or remove "
	          "one of them");
	CHECK_INT(f->clusters[4].err.code, 0);
	CHECK(f->clusters[4].disabled);
	CHECK_INT(f->clusters[4].addrs[0].cidr.family, AF_INET6);
	CHECK_STR(f->clusters[4].addrs[0].server_url, "https://[fd00:10::1]:6443");
	fed_federation_free(f);
}

static void test_anchors(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_federation *f = NULL;
	size_t len = 0, i;
	char *yaml = read_fixture("anchors.yaml", &len);

	CHECK(yaml);
	CHECK_INT(fed_federation_parse(&f, yaml, len, SRC, &err), 0);
	free(yaml);
	CHECK_INT(f->n, 3);
	for (i = 0; i < 3; i++) {
		CHECK_INT(f->clusters[i].err.code, 0);
		CHECK_INT(f->clusters[i].n_addrs, 1);
		CHECK_STR(f->clusters[i].addrs[0].server_url, "https://10.0.1.1:6443");
	}
	/* the merged entry's own clusterName wins over the anchor's */
	CHECK_STR(f->clusters[1].name, "c2");
	CHECK(f->clusters[2].disabled);
	fed_federation_free(f);
}

/* Problems with the document as a whole: no federation is returned. */
/* spec.tunnel.proxyPublishAddress: read, checked, unknown keys refused. */
static void test_tunnel(void)
{
	static const struct {
		const char *yaml, *msg;
	} bad[] = {
	    {"apiVersion: federation/v1beta1\nkind: Federation\nspec:\n  tunnel: "
	     "{proxyPublishAddress: \"https://x:1\"}\n  clusters: []\n",
	     "kubefed.yaml:4:34: spec.tunnel.proxyPublishAddress: must be HOST:PORT"},
	    {"apiVersion: federation/v1beta1\nkind: Federation\nspec:\n  tunnel: "
	     "{proxyPublishAddress: \"x:0\"}\n  clusters: []\n",
	     "spec.tunnel.proxyPublishAddress: must be HOST:PORT"},
	    {"apiVersion: federation/v1beta1\nkind: Federation\nspec:\n  tunnel: "
	     "{proxyPublishAddress: x}\n  clusters: []\n",
	     "must be HOST:PORT"},
	    {"apiVersion: federation/v1beta1\nkind: Federation\nspec:\n  tunnel:\n    "
	     "proxyAddress: x:1\n  clusters: []\n",
	     "kubefed.yaml:5:5: spec.tunnel: unknown key \"proxyAddress\""},
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_federation *f = NULL;
	size_t i;

	CHECK_INT(parse(&f,
	                "apiVersion: federation/v1beta1\nkind: Federation\nspec:\n  tunnel:\n    "
	                "proxyPublishAddress: tunnel.example.com:8080\n  clusters:\n  - "
	                "clusterName: edge\n    mode: agent\n",
	                &err),
	          0);
	CHECK_STR(f->proxy_publish_address, "tunnel.example.com:8080");
	CHECK_INT(f->clusters[0].mode, FED_CLUSTER_AGENT);
	fed_federation_free(f);
	f = NULL;
	CHECK_INT(parse(&f,
	                "apiVersion: federation/v1beta1\nkind: Federation\nspec:\n  tunnel: "
	                "{proxyPublishAddress: \"[2001:db8::1]:443\"}\n  clusters: []\n",
	                &err),
	          0);
	CHECK_STR(f->proxy_publish_address, "[2001:db8::1]:443");
	fed_federation_free(f);
	f = NULL;
	CHECK_INT(parse(&f,
	                "apiVersion: federation/v1beta1\nkind: Federation\nspec:\n  clusters: []\n",
	                &err),
	          0);
	CHECK(!f->proxy_publish_address);
	fed_federation_free(f);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fed_error e = FED_ERROR_INIT;
		f = NULL;
		CHECK_INT(parse(&f, bad[i].yaml, &e), FED_EINVAL);
		CHECK(!f);
		CHECK_HAS(e.msg, bad[i].msg);
	}
}

static void test_document_errors(void)
{
	static const struct {
		const char *yaml, *msg;
	} cases[] = {
	    {HEAD "  - clusterName: a\n    mode: agent\n  - [\n",
	     "kubefed.yaml:8:1: flow sequence without a closing bracket"},
	    {HEAD "  - clusterName: a\n   mode: agent\n",
	     "kubefed.yaml:6:4: invalid indentation in mapping"},
	    {HEAD "  - clusterName: \"a\n",
	     "kubefed.yaml:5:19: double-quoted scalar without closing quote"},
	    {"apiVersion: federation/v1beta1\nkind: Federation\nspec:\n\tclusters: []\n",
	     "kubefed.yaml:4:1: tab character may not be used as indentation"},
	    {"apiVersion: v1\nkind: Federation\nspec: {clusters: []}\n",
	     "kubefed.yaml:1:13: apiVersion: must be federation/v1beta1, not \"v1\""},
	    {"apiVersion: federation/v1beta1\nkind: KubeFedCluster\nspec: {}\n",
	     "kubefed.yaml:2:7: kind: must be Federation, not \"KubeFedCluster\""},
	    /* the whole ConfigMap pasted in: the header is checked before keys */
	    {"apiVersion: v1\nkind: ConfigMap\ndata:\n  kubefed.yaml: |\n    x\n",
	     "kubefed.yaml:1:13: apiVersion: must be federation/v1beta1, not \"v1\""},
	    {"kind: Federation\nspec: {}\n",
	     "kubefed.yaml:1:1: missing required key \"apiVersion\" (federation/v1beta1)"},
	    {"apiVersion: [federation/v1beta1]\nkind: Federation\nspec: {}\n",
	     "kubefed.yaml:1:1: apiVersion: must be a string, not a list"},
	    {"apiVersion: federation/v1beta1\nkind: Federation\n",
	     "kubefed.yaml:1:1: missing required key \"spec\" (spec.clusters lists the member "
	     "clusters)"},
	    {"apiVersion: federation/v1beta1\nkind: Federation\nspec:\n",
	     "kubefed.yaml:3:1: spec: must not be empty (spec.clusters lists the member "
	     "clusters)"},
	    {"apiVersion: federation/v1beta1\nkind: Federation\nspec: [a]\n",
	     "kubefed.yaml:3:1: spec: must be a mapping, not a list"},
	    {"apiVersion: federation/v1beta1\nkind: Federation\nspec:\n  clusters: cluster1\n",
	     "kubefed.yaml:4:3: spec.clusters: must be a list, not \"cluster1\""},
	    {"apiVersion: federation/v1beta1\nkind: Federation\nspec:\n  clusters:\n"
	     "    clusterName: a\n",
	     "kubefed.yaml:4:3: spec.clusters: must be a list, not a mapping"},
	    {HEAD "  - clusterName: a\n    mode: agent\nstatus: {}\n",
	     "kubefed.yaml:7:1: unknown key \"status\" (allowed: apiVersion, kind, metadata, "
	     "spec)"},
	    {"apiVersion: federation/v1beta1\nkind: Federation\nspec:\n  cluster: []\n",
	     "kubefed.yaml:4:3: spec: unknown key \"cluster\"; did you mean \"clusters\"? "
	     "(allowed: clusters, tunnel)"},
	    {"apiVersion: federation/v1beta1\nkind: Federation\nmetadata:\n  name: f\n"
	     "  namespace: kube-system\nspec: {}\n",
	     "kubefed.yaml:5:3: metadata: unknown key \"namespace\" (allowed: name)"},
	    {"", "kubefed.yaml: empty document; expected a Federation (apiVersion: "
	         "federation/v1beta1, kind: Federation, spec.clusters)"},
	    {"# nothing yet\n", "kubefed.yaml: empty document; expected a Federation "
	                        "(apiVersion: federation/v1beta1, kind: Federation, "
	                        "spec.clusters)"},
	    {"- clusterName: a\n",
	     "kubefed.yaml:1:3: must be a Federation mapping (apiVersion: federation/v1beta1, "
	     "kind: Federation, spec.clusters), not a list"},
	    {"apiVersion: federation/v1beta1\nkind: Federation\nspec:\n  clusters: []\n"
	     "spec: {}\n",
	     "kubefed.yaml:5:1: duplicate key"},
	    {"apiVersion: federation/v1beta1\nkind: Federation\nspec:\n  clusters:\n  - "
	     "clusterName: \"a\xff\"\n",
	     "kubefed.yaml:5:20: invalid UTF-8"},
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_federation *f = NULL;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f = (struct fed_federation *)&err; /* must be reset */
		CHECK_INT(parse(&f, cases[i].yaml, &err), FED_EINVAL);
		CHECK(f == NULL);
		CHECK_INT(err.code, FED_EINVAL);
		CHECK_STR(err.msg, cases[i].msg);
	}
}

/* A bad entry marks only itself invalid; "good" after it stays valid. */
static void test_cluster_errors(void)
{
	static const struct {
		const char *entry, *msg;
	} cases[] = {
	    {"  - clusterName: Cluster_1\n    mode: agent\n",
	     "kubefed.yaml:5:18: spec.clusters[0].clusterName: \"Cluster_1\" is not a valid "
	     "cluster name: a cluster name must consist of lower case alphanumeric "
	     "characters, '-' or '.', and must start and end with an alphanumeric character; "
	     "did you mean \"cluster-1\"?"},
	    {"  - clusterName: a..b\n    mode: agent\n",
	     "kubefed.yaml:5:18: spec.clusters[0].clusterName: \"a..b\" is not a valid "
	     "cluster name: a cluster name must consist of lower case alphanumeric "
	     "characters, '-' or '.', and must start and end with an alphanumeric character; "
	     "did you mean \"a.b\"?"},
	    {"  - clusterName: \"--\"\n    mode: agent\n",
	     "kubefed.yaml:5:19: spec.clusters[0].clusterName: \"--\" is not a valid cluster "
	     "name: a cluster name must consist of lower case alphanumeric characters, '-' or "
	     "'.', and must start and end with an alphanumeric character (e.g. "
	     "\"cluster-1\")"},
	    {"  - clusterName: "
	     "a234567890123456789012345678901234567890123456789012345678901234\n"
	     "    mode: agent\n",
	     "kubefed.yaml:5:18: spec.clusters[0].clusterName: "
	     "\"a234567890123456789012345678901234567890123456789012345678901234\" is 64 "
	     "characters long; a cluster name must be at most 63 characters (it is used in "
	     "label values)"},
	    {"  - clusterName: \"\"\n    mode: agent\n",
	     "kubefed.yaml:5:5: spec.clusters[0].clusterName: must not be empty (the member's "
	     "name, e.g. cluster1)"},
	    {"  - mode: agent\n",
	     "kubefed.yaml:5:5: spec.clusters[0]: missing required key \"clusterName\" (the "
	     "member's name, e.g. cluster1)"},
	    {"  - clusterName: [x]\n    mode: agent\n",
	     "kubefed.yaml:5:5: spec.clusters[0].clusterName: must be a string, not a list"},
	    {"  - clusterName: c\n    mode: proxy\n",
	     "kubefed.yaml:6:5: spec.clusters[0].mode: must be \"direct\" or \"agent\", not "
	     "\"proxy\""},
	    {"  - clusterName: c\n    mode: agent\n    disabled: maybe\n",
	     "kubefed.yaml:7:5: spec.clusters[0].disabled: must be true or false, not "
	     "\"maybe\""},
	    {"  - clusterName: c\n    mode: agent\n    disabled: \"true\"\n",
	     "kubefed.yaml:7:5: spec.clusters[0].disabled: must be true or false, not "
	     "\"true\""},
	    {"  - clusterName: c\n    mode: agent\n    colour: red\n",
	     "kubefed.yaml:7:5: spec.clusters[0]: unknown key \"colour\" (allowed: "
	     "clusterName, mode, disabled, serverAddressByClientCIDRs)"},
	    {"  - clusterName: c\n    serverAddresByClientCIDRs: []\n",
	     "kubefed.yaml:6:5: spec.clusters[0]: unknown key \"serverAddresByClientCIDRs\"; "
	     "did you mean \"serverAddressByClientCIDRs\"? (allowed: clusterName, mode, "
	     "disabled, serverAddressByClientCIDRs)"},
	    {"  - clusterName: c\n",
	     "kubefed.yaml:5:5: spec.clusters[0]: a direct cluster needs "
	     "serverAddressByClientCIDRs (where its API server is): add "
	     "\"serverAddressByClientCIDRs: [{clientCIDR: 0.0.0.0/0, serverAddress: "
	     "https://<api-server>:6443}]\", or set \"mode: agent\""},
	    {"  - clusterName: c\n    mode: direct\n    serverAddressByClientCIDRs: []\n",
	     "kubefed.yaml:5:5: spec.clusters[0]: a direct cluster needs "
	     "serverAddressByClientCIDRs (where its API server is): add "
	     "\"serverAddressByClientCIDRs: [{clientCIDR: 0.0.0.0/0, serverAddress: "
	     "https://<api-server>:6443}]\", or set \"mode: agent\""},
	    {"  - clusterName: c\n    serverAddressByClientCIDRs: https://10.0.1.1\n",
	     "kubefed.yaml:6:5: spec.clusters[0].serverAddressByClientCIDRs: must be a list, "
	     "not \"https://10.0.1.1\""},
	    {"  - clusterName: c\n    serverAddressByClientCIDRs:\n"
	     "    - clientCIDR: 0.0.0.0/0\n"
	     "      serverAddress: https://10.0.1.1:6443\n    - clientCIDR: 10.0.0.1/8\n"
	     "      serverAddress: https://10.0.1.1:6443\n",
	     "kubefed.yaml:9:19: spec.clusters[0].serverAddressByClientCIDRs[1].clientCIDR: "
	     "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"},
	    {"  - clusterName: c\n    serverAddressByClientCIDRs:\n"
	     "    - clientCIDR: 10.0.0.0\n"
	     "      serverAddress: https://10.0.1.1:6443\n",
	     "kubefed.yaml:7:19: spec.clusters[0].serverAddressByClientCIDRs[0].clientCIDR: "
	     "\"10.0.0.0\" has no prefix length; did you mean 10.0.0.0/32?"},
	    {"  - clusterName: c\n    serverAddressByClientCIDRs:\n"
	     "    - clientCIDR: 10.0.0.0/33\n"
	     "      serverAddress: https://10.0.1.1:6443\n",
	     "kubefed.yaml:7:19: spec.clusters[0].serverAddressByClientCIDRs[0].clientCIDR: "
	     "\"10.0.0.0/33\" is not a CIDR: the prefix length after '/' must be a number "
	     "from 0 to 32 for IPv4"},
	    {"  - clusterName: c\n    serverAddressByClientCIDRs:\n"
	     "    - clientCIDR: 10.0.0/8\n"
	     "      serverAddress: https://10.0.1.1:6443\n",
	     "kubefed.yaml:7:19: spec.clusters[0].serverAddressByClientCIDRs[0].clientCIDR: "
	     "\"10.0.0/8\" is not a CIDR: 10.0.0 is not an IPv4 or IPv6 address (e.g. "
	     "10.0.0.0/8 or fd00::/64)"},
	    {"  - clusterName: c\n    serverAddressByClientCIDRs:\n"
	     "    - clientCIDR: fd00::1/64\n"
	     "      serverAddress: https://10.0.1.1:6443\n",
	     "kubefed.yaml:7:19: spec.clusters[0].serverAddressByClientCIDRs[0].clientCIDR: "
	     "fd00::1/64 has host bits set; did you mean fd00::/64?"},
	    {"  - clusterName: c\n    serverAddressByClientCIDRs:\n"
	     "    - clientCIDR: 0.0.0.0/0\n"
	     "      serverAddress: http://10.0.1.1:6443\n",
	     "kubefed.yaml:8:22: spec.clusters[0].serverAddressByClientCIDRs[0].serverAddress: "
	     "\"http://10.0.1.1:6443\" uses plain HTTP; fed never talks plain HTTP to a member "
	     "cluster: use https://10.0.1.1:6443"},
	    {"  - clusterName: c\n    serverAddressByClientCIDRs:\n"
	     "    - clientCIDR: 0.0.0.0/0\n"
	     "      serverAddress: 10.0.1.1:99999\n",
	     "kubefed.yaml:8:22: spec.clusters[0].serverAddressByClientCIDRs[0].serverAddress: "
	     "\"10.0.1.1:99999\": the port must be a number from 1 to 65535"},
	    {"  - clusterName: c\n    serverAddressByClientCIDRs:\n"
	     "    - clientCIDR: 0.0.0.0/0\n"
	     "      serverAddress: api_server\n",
	     "kubefed.yaml:8:22: spec.clusters[0].serverAddressByClientCIDRs[0].serverAddress: "
	     "\"api_server\": api_server is not a valid host name (letters, digits, '-' and "
	     "'.') or IP address"},
	    {"  - clusterName: c\n    serverAddressByClientCIDRs:\n"
	     "    - clientCIDR: 0.0.0.0/0\n",
	     "kubefed.yaml:7:7: spec.clusters[0].serverAddressByClientCIDRs[0]: missing "
	     "required key \"serverAddress\" (the member's API server, e.g. "
	     "https://10.0.1.1:6443)"},
	    {"  - clusterName: c\n    serverAddressByClientCIDRs:\n"
	     "    - clientCIDR: 0.0.0.0/0\n"
	     "      serverAddress: https://10.0.1.1:6443\n      weight: 1\n",
	     "kubefed.yaml:9:7: spec.clusters[0].serverAddressByClientCIDRs[0]: unknown key "
	     "\"weight\" (allowed: clientCIDR, serverAddress)"},
	    {"  - clusterName: c\n    serverAddressByClientCIDRs:\n    - ~\n",
	     "kubefed.yaml:7:7: spec.clusters[0].serverAddressByClientCIDRs[0]: must be a "
	     "mapping with clientCIDR and serverAddress, not null"},
	    {"  - cluster1\n",
	     "kubefed.yaml:5:5: spec.clusters[0]: must be a mapping with clusterName and "
	     "serverAddressByClientCIDRs, not a string"},
	    {"  - clusterName: c\n    <<: [a]\n",
	     "kubefed.yaml:6:10: spec.clusters[0]: a merge key (\"<<\") list must hold "
	     "mappings, not a string"},
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_federation *f = NULL;
	char yaml[2048];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(yaml, sizeof(yaml), HEAD "%s" GOOD, cases[i].entry);
		CHECK_INT(parse(&f, yaml, &err), 0);
		CHECK_INT(f->n, 2);
		CHECK_INT(f->clusters[0].err.code, FED_EINVAL);
		CHECK_STR(f->clusters[0].err.msg, cases[i].msg);
		CHECK_INT(f->clusters[1].err.code, 0);
		CHECK_STR(f->clusters[1].name, "good");
		fed_federation_free(f);
		f = NULL;
	}
}

static void test_cluster_fields(void)
{
	static const char yaml[] = HEAD "  - clusterName: edge-1.example\n"
	                                "    mode: agent\n"
	                                "    disabled: true\n"
	                                "  - clusterName: \"7\"\n"
	                                "    mode: \"agent\"\n"
	                                "    disabled: no\n"
	                                "  - clusterName: v6\n"
	                                "    serverAddressByClientCIDRs:\n"
	                                "    - clientCIDR: ::/0\n"
	                                "      serverAddress: \"[2001:DB8:0::1]\"\n"
	                                "  - ~\n";
	struct fed_error err = FED_ERROR_INIT;
	struct fed_federation *f = NULL;

	CHECK_INT(parse(&f, yaml, &err), 0);
	CHECK(f->name == NULL);
	CHECK_INT(f->n, 4);
	CHECK_INT(f->clusters[0].err.code, 0);
	CHECK_INT(f->clusters[0].mode, FED_CLUSTER_AGENT);
	CHECK(f->clusters[0].disabled);
	CHECK_INT(f->clusters[1].err.code, 0);
	CHECK_STR(f->clusters[1].name, "7");
	CHECK_INT(f->clusters[1].mode, FED_CLUSTER_AGENT);
	CHECK(!f->clusters[1].disabled);
	CHECK_INT(f->clusters[2].err.code, 0);
	CHECK_STR(f->clusters[2].addrs[0].server_url, "https://[2001:db8::1]:443");
	CHECK_INT(f->clusters[3].err.code, FED_EINVAL);
	CHECK(f->clusters[3].name == NULL);
	CHECK_STR(f->clusters[3].err.msg,
	          "kubefed.yaml:15:5: spec.clusters[3]: must be a mapping with clusterName and "
	          "serverAddressByClientCIDRs, not null");
	fed_federation_free(f);

	/* no clusters yet is a valid, empty federation */
	CHECK_INT(parse(&f, HEAD, &err), 0);
	CHECK_INT(f->n, 0);
	fed_federation_free(f);
	CHECK_INT(parse(&f, HEAD "  []\n", &err), 0);
	CHECK_INT(f->n, 0);
	fed_federation_free(f);
}

/* A broken entry keeps its name when the name itself is fine. */
static void test_failed_names(void)
{
	static const char yaml[] = HEAD "  - clusterName: Bad_Name\n    mode: agent\n"
	                                "  - colour: red\n    clusterName: typo\n"
	                                "  - clusterName: \"a\\nb\"\n    mode: agent\n"
	                                "  - clusterName: nodir\n"
	                                "  - clusterName: typo\n    mode: agent\n";
	struct fed_error err = FED_ERROR_INIT;
	struct fed_federation *f = NULL;

	CHECK_INT(parse(&f, yaml, &err), 0);
	CHECK_INT(f->n, 5);
	CHECK(f->clusters[0].err.code && f->clusters[0].name == NULL);
	/* the unknown key stopped the fill before clusterName was read */
	CHECK(f->clusters[1].err.code);
	CHECK_STR(f->clusters[1].name, "typo");
	CHECK(f->clusters[2].err.code && f->clusters[2].name == NULL);
	CHECK_STR(f->clusters[2].err.msg,
	          "kubefed.yaml:9:19: spec.clusters[2].clusterName: \"a\\nb\" is not a valid "
	          "cluster name: a cluster name must consist of lower case alphanumeric "
	          "characters, '-' or '.', and must start and end with an alphanumeric character; "
	          "did you mean \"a-b\"?");
	CHECK(f->clusters[3].err.code);
	CHECK_STR(f->clusters[3].name, "nodir");
	/* the broken entry claimed its name first */
	CHECK_STR(f->clusters[4].err.msg,
	          "kubefed.yaml:12:18: spec.clusters[4].clusterName: \"typo\" is already the name "
	          "of spec.clusters[1] (line 7); cluster names must be unique: rename or remove "
	          "one of them");
	fed_federation_free(f);
}

static void test_duplicates(void)
{
	static const char yaml[] = HEAD "  - clusterName: a\n    mode: agent\n"
	                                "  - clusterName: B\n    mode: agent\n"
	                                "  - clusterName: a\n    mode: agent\n"
	                                "  - clusterName: a\n    mode: agent\n";
	struct fed_error err = FED_ERROR_INIT;
	struct fed_federation *f = NULL;

	CHECK_INT(parse(&f, yaml, &err), 0);
	CHECK_INT(f->n, 4);
	CHECK_INT(f->clusters[0].err.code, 0);
	CHECK_INT(f->clusters[1].err.code, FED_EINVAL);
	CHECK_STR(f->clusters[2].err.msg,
	          "kubefed.yaml:9:18: spec.clusters[2].clusterName: \"a\" is already the name of "
	          "spec.clusters[0] (line 5); cluster names must be unique: rename or remove one "
	          "of them");
	CHECK_STR(f->clusters[3].err.msg,
	          "kubefed.yaml:11:18: spec.clusters[3].clusterName: \"a\" is already the name of "
	          "spec.clusters[0] (line 5); cluster names must be unique: rename or remove one "
	          "of them");
	fed_federation_free(f);
}

static void test_limits(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_federation *f = NULL;
	char *yaml = NULL;
	size_t cap = 64 * 1024, off, i;

	/* aliases make repeats cheap: the list sizes are bounded */
	CHECK((yaml = malloc(cap)) != NULL);
	off = (size_t)snprintf(yaml, cap, HEAD "  - &a {clusterName: a, mode: agent}\n");
	for (i = 0; i < FED_FEDERATION_MAX_CLUSTERS; i++)
		off += (size_t)snprintf(yaml + off, cap - off, "  - *a\n");
	CHECK_INT(parse(&f, yaml, &err), FED_EINVAL);
	CHECK_STR(err.msg, "kubefed.yaml:4:3: spec.clusters: must have at most 1000 entries, not "
	                   "1001");
	off = (size_t)snprintf(yaml, cap,
	                       HEAD "  - clusterName: a\n    serverAddressByClientCIDRs:\n"
	                            "    - &x {clientCIDR: 0.0.0.0/0, serverAddress: h}\n");
	for (i = 0; i < FED_CLUSTER_MAX_ADDRS; i++)
		off += (size_t)snprintf(yaml + off, cap - off, "    - *x\n");
	CHECK_INT(parse(&f, yaml, &err), 0);
	CHECK_STR(f->clusters[0].err.msg, "kubefed.yaml:6:5: spec.clusters[0]."
	                                  "serverAddressByClientCIDRs: must have at most 64 "
	                                  "entries, not 65");
	fed_federation_free(f);
	free(yaml);
}

/* ---- addresses ---- */

static void test_server_url(void)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
	    {"api.example.com", "https://api.example.com:443"},
	    {"API.Example.com:6443", "https://api.example.com:6443"},
	    {"localhost", "https://localhost:443"},
	    {"10.0.1.1", "https://10.0.1.1:443"},
	    {"10.0.1.1:6443", "https://10.0.1.1:6443"},
	    {"[fd00::1]", "https://[fd00::1]:443"},
	    {"[fd00::1]:6443", "https://[fd00::1]:6443"},
	    {"fd00::1", "https://[fd00::1]:443"},
	    {"2001:DB8:0:0:0:0:0:1", "https://[2001:db8::1]:443"},
	    {"::ffff:10.0.0.1", "https://[::ffff:10.0.0.1]:443"},
	    {"https://10.0.1.1:6443", "https://10.0.1.1:6443"},
	    {"https://api.example.com", "https://api.example.com:443"},
	    {"https://api.example.com/", "https://api.example.com:443"},
	    {"HTTPS://[FD00::1]:8443", "https://[fd00::1]:8443"},
	    {"https://rancher.example.com/k8s/clusters/c-x7k2",
	     "https://rancher.example.com:443/k8s/clusters/c-x7k2"},
	    {"https://10.0.1.1:6443/prefix/", "https://10.0.1.1:6443/prefix/"},
	};
	static const struct {
		const char *in, *msg;
	} bad[] = {
	    {"", "empty server address; expected e.g. https://10.0.1.1:6443"},
	    {"http://10.0.1.1", "\"http://10.0.1.1\" uses plain HTTP; fed never talks plain "
	                        "HTTP to a member cluster: use https://10.0.1.1"},
	    {"HTTP://h:80", "\"HTTP://h:80\" uses plain HTTP; fed never talks plain HTTP to a "
	                    "member cluster: use https://h:80"},
	    {"tcp://h", "\"tcp://h\": unsupported scheme \"tcp\"; use an https:// URL (e.g. "
	                "https://10.0.1.1:6443)"},
	    {"https://admin:pw@h", "\"https://admin:pw@h\": credentials in the URL (user@host) "
	                           "are not allowed; remove them (fed reads credentials from "
	                           "the cluster's Secret)"},
	    {"https://h/?watch=1", "\"https://h/?watch=1\": a query ('?') or fragment ('#') is "
	                           "not allowed in a server address"},
	    {"https://", "\"https://\" has no host name"},
	    {":6443", "\":6443\" has no host name"},
	    {"h:0", "\"h:0\": the port must be a number from 1 to 65535"},
	    {"h:65536", "\"h:65536\": the port must be a number from 1 to 65535"},
	    {"h:http", "\"h:http\": the port must be a number from 1 to 65535"},
	    {"10.0.1", "\"10.0.1\": 10.0.1 is not a valid IPv4 address"},
	    {"10.0.1.256:6443", "\"10.0.1.256:6443\": 10.0.1.256 is not a valid IPv4 address"},
	    {"-h", "\"-h\": -h is not a valid host name (letters, digits, '-' and '.') or IP "
	           "address"},
	    {"h h", "\"h h\" contains spaces or control characters"},
	    {"10.0.0.0/8", "\"10.0.0.0/8\" is not a host, host:port or https:// URL (e.g. "
	                   "10.0.1.1:6443 or https://api.example.com:6443)"},
	    {"https://fd00::1", "\"https://fd00::1\" is not a valid address; write an IPv6 "
	                        "address in brackets, with an optional port: [fd00::1]:6443"},
	    {"[fd00::1", "\"[fd00::1\": '[' without ']'"},
	    {"[10.0.0.1]", "\"[10.0.0.1]\": 10.0.0.1 is not an IPv6 address"},
	    {"[fe80::1%eth0]:6443", "\"[fe80::1%eth0]:6443\": IPv6 zones ('%') are not "
	                            "supported; use a routable address"},
	};
	struct fed_error err = FED_ERROR_INIT;
	char *url = NULL;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK_INT(fed_server_url(ok[i].in, &url, &err), 0);
		CHECK_STR(url, ok[i].out);
		free(url);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fed_error_clear(&err);
		CHECK_INT(fed_server_url(bad[i].in, &url, &err), FED_EINVAL);
		CHECK(url == NULL);
		CHECK_STR(err.msg, bad[i].msg);
	}
}

static void test_cidr(void)
{
	static const struct {
		const char *in;
		int family;
		unsigned int prefix;
	} ok[] = {
	    {"0.0.0.0/0", AF_INET, 0},      {"10.0.0.0/8", AF_INET, 8},
	    {"10.1.0.0/16", AF_INET, 16},   {"192.168.1.7/32", AF_INET, 32},
	    {"10.0.0.128/25", AF_INET, 25}, {"::/0", AF_INET6, 0},
	    {"fd00::/64", AF_INET6, 64},    {"2001:db8:1::/48", AF_INET6, 48},
	    {"fd00::1/128", AF_INET6, 128}, {"::ffff:0.0.0.0/96", AF_INET6, 96},
	};
	static const struct {
		const char *in, *msg;
	} bad[] = {
	    {"", "empty CIDR; expected an address and a prefix length, e.g. 0.0.0.0/0, "
	         "10.0.0.0/8 or fd00::/64"},
	    {"10.0.0.1/8", "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"},
	    {"10.0.0.129/25", "10.0.0.129/25 has host bits set; did you mean 10.0.0.128/25?"},
	    {"fd00::1/64", "fd00::1/64 has host bits set; did you mean fd00::/64?"},
	    {"10.0.0.0", "\"10.0.0.0\" has no prefix length; did you mean 10.0.0.0/32?"},
	    {"fd00::", "\"fd00::\" has no prefix length; did you mean fd00::/128?"},
	    {"10.0.0.0/33", "\"10.0.0.0/33\" is not a CIDR: the prefix length after '/' must "
	                    "be a number from 0 to 32 for IPv4"},
	    {"fd00::/129", "\"fd00::/129\" is not a CIDR: the prefix length after '/' must be "
	                   "a number from 0 to 128 for IPv6"},
	    {"10.0.0.0/08", "\"10.0.0.0/08\" is not a CIDR: the prefix length after '/' must "
	                    "be a number from 0 to 32 for IPv4"},
	    {"10.0.0.0/", "\"10.0.0.0/\" is not a CIDR: the prefix length after '/' must be a "
	                  "number from 0 to 32 for IPv4"},
	    {"10.0.0.0/-1", "\"10.0.0.0/-1\" is not a CIDR: the prefix length after '/' must "
	                    "be a number from 0 to 32 for IPv4"},
	    {"010.0.0.0/8", "\"010.0.0.0/8\" is not a CIDR: 010.0.0.0 is not an IPv4 or IPv6 "
	                    "address (e.g. 10.0.0.0/8 or fd00::/64)"},
	    {"fe80::/10%eth0", "\"fe80::/10%eth0\" is not a CIDR: the prefix length after '/' "
	                       "must be a number from 0 to 128 for IPv6"},
	    {"any", "\"any\" is not a CIDR; expected an address and a prefix length, e.g. "
	            "0.0.0.0/0, 10.0.0.0/8 or fd00::/64"},
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_cidr c;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK_INT(fed_cidr_parse(ok[i].in, &c, &err), 0);
		CHECK_INT(c.family, ok[i].family);
		CHECK_INT(c.prefix, ok[i].prefix);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fed_error_clear(&err);
		CHECK_INT(fed_cidr_parse(bad[i].in, &c, &err), FED_EINVAL);
		CHECK_STR(err.msg, bad[i].msg);
	}
}

static bool contains(const char *cidr, const char *ip)
{
	struct fed_cidr c;
	unsigned char addr[16];
	int family;

	return !fed_cidr_parse(cidr, &c, NULL) && !fed_ip_parse(ip, &family, addr) &&
	       fed_cidr_contains(&c, family, addr);
}

static void test_cidr_contains(void)
{
	unsigned char addr[16];
	int family;

	CHECK(contains("10.0.0.0/8", "10.255.0.1"));
	CHECK(!contains("10.0.0.0/8", "11.0.0.1"));
	CHECK(contains("10.0.0.128/25", "10.0.0.200"));
	CHECK(!contains("10.0.0.128/25", "10.0.0.127"));
	CHECK(contains("0.0.0.0/0", "1.2.3.4"));
	CHECK(contains("192.168.1.7/32", "192.168.1.7"));
	CHECK(!contains("192.168.1.7/32", "192.168.1.6"));
	/* families never mix ... */
	CHECK(!contains("0.0.0.0/0", "fd00::1"));
	CHECK(!contains("::/0", "10.0.0.1"));
	CHECK(contains("fd00::/8", "fdff::1"));
	CHECK(contains("fe80::/10", "fe80::1%eth0"));
	/* ... except that an IPv4-mapped address is its IPv4 address */
	CHECK(contains("10.0.0.0/8", "::ffff:10.1.2.3"));
	CHECK(!contains("::/0", "::ffff:10.1.2.3"));
	CHECK_INT(fed_ip_parse("10.1.2.3", &family, addr), 0);
	CHECK_INT(family, AF_INET);
	CHECK_INT(fed_ip_parse("fd00::1", &family, addr), 0);
	CHECK_INT(family, AF_INET6);
	CHECK_INT(fed_ip_parse("10.1.2.3%eth0", &family, addr), FED_EINVAL);
	CHECK_INT(fed_ip_parse("10.1.2", &family, addr), FED_EINVAL);
	CHECK_INT(fed_ip_parse("", &family, addr), FED_EINVAL);
	CHECK_INT(fed_ip_parse(NULL, &family, addr), FED_EINVAL);
	CHECK(!fed_cidr_contains(NULL, AF_INET, addr));
}

static void test_pick_address(void)
{
	static const char yaml[] =
	    HEAD "  - clusterName: c\n"
	         "    serverAddressByClientCIDRs:\n"
	         "    - {clientCIDR: 0.0.0.0/0, serverAddress: https://any.example.com}\n"
	         "    - {clientCIDR: 10.0.0.0/8, serverAddress: https://ten.example.com}\n"
	         "    - {clientCIDR: 10.1.0.0/16, serverAddress: https://ten-one.example.com}\n"
	         "    - {clientCIDR: 10.2.0.0/16, serverAddress: https://two-a.example.com}\n"
	         "    - {clientCIDR: 10.2.0.0/16, serverAddress: https://two-b.example.com}\n"
	         "    - {clientCIDR: 10.3.0.0/16, serverAddress: https://three.example.com}\n"
	         "    - {clientCIDR: 'fd00::/8', serverAddress: '[fd00::1]:6443'}\n"
	         "    - {clientCIDR: 'fd00:1::/32', serverAddress: '[fd00:1::1]:6443'}\n"
	         "  - clusterName: v4only\n"
	         "    serverAddressByClientCIDRs:\n"
	         "    - {clientCIDR: 10.0.0.0/8, serverAddress: 10.0.0.1}\n"
	         "  - clusterName: agent\n"
	         "    mode: agent\n"
	         "  - clusterName: Bad\n"
	         "    mode: agent\n";
	struct fed_error err = FED_ERROR_INIT;
	struct fed_federation *f = NULL;
	const struct fed_cluster_spec *c;
	const char *url = NULL, *cidr = NULL;
	const char *ip_one[] = {"10.1.2.3"};
	const char *ip_two[] = {"10.2.0.9"};
	const char *ips_mixed[] = {"not-an-ip", "192.168.0.5", "10.3.0.1"};
	const char *ip_v6[] = {"fd00:1:2::3"};
	const char *ip_v6_other[] = {"fd99::3"};
	const char *ip_mapped[] = {"::ffff:10.1.2.3"};
	const char *ip_public[] = {"203.0.113.9"};
	const char *ip_global6[] = {"2001:db8::1"};

	CHECK_INT(parse(&f, yaml, &err), 0);
	CHECK_INT(f->n, 4);
	c = &f->clusters[0];
	CHECK_INT(c->err.code, 0);
	/* longest prefix wins: /16 over /8 over /0 */
	CHECK_INT(fed_federation_pick_address(c, ip_one, 1, &url, &cidr), 0);
	CHECK_STR(url, "https://ten-one.example.com:443");
	CHECK_STR(cidr, "10.1.0.0/16");
	/* a tie goes to the earlier entry */
	CHECK_INT(fed_federation_pick_address(c, ip_two, 1, &url, &cidr), 0);
	CHECK_STR(url, "https://two-a.example.com:443");
	/* any of the client IPs; bad ones are skipped */
	CHECK_INT(fed_federation_pick_address(c, ips_mixed, 3, &url, &cidr), 0);
	CHECK_STR(url, "https://three.example.com:443");
	CHECK_INT(fed_federation_pick_address(c, ips_mixed, 2, &url, &cidr), 0);
	CHECK_STR(cidr, "0.0.0.0/0");
	/* IPv6 clients match IPv6 CIDRs only */
	CHECK_INT(fed_federation_pick_address(c, ip_v6, 1, &url, &cidr), 0);
	CHECK_STR(url, "https://[fd00:1::1]:6443");
	CHECK_STR(cidr, "fd00:1::/32");
	CHECK_INT(fed_federation_pick_address(c, ip_v6_other, 1, &url, &cidr), 0);
	CHECK_STR(url, "https://[fd00::1]:6443");
	CHECK_INT(fed_federation_pick_address(c, ip_global6, 1, &url, &cidr), FED_ENOTFOUND);
	CHECK(url == NULL && cidr == NULL);
	/* an IPv4-mapped IPv6 address is an IPv4 client */
	CHECK_INT(fed_federation_pick_address(c, ip_mapped, 1, &url, &cidr), 0);
	CHECK_STR(url, "https://ten-one.example.com:443");
	/* nothing matches: the controller reports NoMatchingClientCIDR */
	c = &f->clusters[1];
	CHECK_INT(fed_federation_pick_address(c, ip_public, 1, &url, &cidr), FED_ENOTFOUND);
	CHECK(url == NULL && cidr == NULL);
	CHECK_INT(fed_federation_pick_address(c, ip_v6, 1, &url, &cidr), FED_ENOTFOUND);
	CHECK_INT(fed_federation_pick_address(c, NULL, 0, &url, &cidr), FED_ENOTFOUND);
	CHECK_INT(fed_federation_pick_address(c, ip_one, 1, NULL, NULL), 0);
	CHECK_INT(fed_federation_pick_address(&f->clusters[2], ip_one, 1, &url, &cidr),
	          FED_ENOTFOUND);
	CHECK_INT(fed_federation_pick_address(&f->clusters[3], ip_one, 1, &url, &cidr), FED_EINVAL);
	fed_federation_free(f);
}

static void test_local_addresses(void)
{
	struct fed_error err = FED_ERROR_INIT;
	unsigned char addr[16];
	char **v = NULL;
	size_t n = 99, i, j;
	bool seen_loopback = false;
	int family;

	CHECK_INT(fed_local_addresses(&v, &n, &err), 0);
	CHECK(v != NULL);
	CHECK(v[n] == NULL);
	for (i = 0; i < n; i++) {
		bool lo;
		CHECK_INT(fed_ip_parse(v[i], &family, addr), 0);
		/* link-local IPv6 is left out */
		CHECK(!(family == AF_INET6 && addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80));
		/* loopback comes last (assuming lo carries only loopback addresses) */
		lo = (family == AF_INET && addr[0] == 127) || !strcmp(v[i], "::1");
		CHECK(lo || !seen_loopback);
		seen_loopback = seen_loopback || lo;
		for (j = 0; j < i; j++)
			CHECK(strcmp(v[i], v[j]) != 0);
	}
	fed_local_addresses_free(v);
	fed_local_addresses_free(NULL);
}

/* ---- the generic mapper ---- */

struct inner {
	char *host;
	long long port;
};

struct outer {
	char *name;
	bool on;
	long long count;
	int color;
	struct inner server;
	long long *ports;
	size_t nports;
};

static int port_item(struct fed_yaml_map *m, struct fy_node *item, size_t index, size_t count,
                     void *base, struct fed_error *err)
{
	struct outer *o = base;

	if (index == 0 && !(o->ports = calloc(count, sizeof(*o->ports))))
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	if (fed_yaml_int(item, &o->ports[index]) || fed_yaml_kind(item) != FED_YAML_SCALAR)
		return fed_yaml_map_error(m, item, err, FED_EINVAL, "must be a port number");
	o->nports++;
	return 0;
}

static int check_port(struct fed_yaml_map *m, struct fy_node *value, void *base,
                      struct fed_error *err)
{
	struct inner *in = base;

	if (in->port < 1 || in->port > 65535)
		return fed_yaml_map_error(m, value, err, FED_EINVAL, "%lld is out of range",
		                          in->port);
	return 0;
}

static const char *const colors[] = {"red", "green", "blue", NULL};

static const struct fed_yaml_map_field inner_fields[] = {
    {.key = "host",
     .type = FED_YAML_MAP_STRING,
     .offset = offsetof(struct inner, host),
     .required = true,
     .desc = "a host"},
    {.key = "port",
     .type = FED_YAML_MAP_INT,
     .offset = offsetof(struct inner, port),
     .desc = "a port",
     .check = check_port},
    {.key = NULL},
};

static const struct fed_yaml_map_field outer_fields[] = {
    {.key = "name",
     .type = FED_YAML_MAP_STRING,
     .offset = offsetof(struct outer, name),
     .required = true,
     .desc = "the name"},
    {.key = "on", .type = FED_YAML_MAP_BOOL, .offset = offsetof(struct outer, on)},
    {.key = "count", .type = FED_YAML_MAP_INT, .offset = offsetof(struct outer, count)},
    {.key = "color",
     .type = FED_YAML_MAP_ENUM,
     .offset = offsetof(struct outer, color),
     .values = colors},
    {.key = "server",
     .type = FED_YAML_MAP_MAPPING,
     .offset = offsetof(struct outer, server),
     .fields = inner_fields},
    {.key = "ports",
     .type = FED_YAML_MAP_SEQ,
     .offset = offsetof(struct outer, ports),
     .item = port_item,
     .max_items = 3},
    {.key = NULL},
};

static int map_fill(const char *yaml, struct outer *o, struct fed_error *err)
{
	struct fed_yaml_doc *doc = NULL;
	struct fed_yaml_map m;
	int ret;

	memset(o, 0, sizeof(*o));
	fed_error_clear(err);
	if ((ret = fed_yaml_parse(&doc, yaml, strlen(yaml), "t.yaml", err)))
		return ret;
	fed_yaml_map_init(&m, doc);
	ret = fed_yaml_map_fill(&m, fed_yaml_root(doc), outer_fields, o, err);
	/* the path is back where it started, whatever happened */
	if (strcmp(fed_yaml_map_path(&m), ""))
		ret = 99;
	fed_yaml_map_release(&m);
	fed_yaml_free(doc);
	return ret;
}

static void outer_free(struct outer *o)
{
	fed_yaml_map_free_fields(outer_fields, o);
	free(o->ports);
	o->ports = NULL;
}

static void test_map(void)
{
	static const struct {
		const char *yaml, *msg;
	} bad[] = {
	    {"on: true\n", "t.yaml:1:1: missing required key \"name\" (the name)"},
	    {"name: a\nnmae: b\n", "t.yaml:2:1: unknown key \"nmae\"; did you mean \"name\"? "
	                           "(allowed: name, on, count, color, server, ports)"},
	    {"name: a\nxyz: b\n", "t.yaml:2:1: unknown key \"xyz\" (allowed: name, on, count, "
	                          "color, server, ports)"},
	    {"name: a\n[k]: b\n", "t.yaml:2:2: keys must be strings, not a list"},
	    {"name: a\non: 1\n", "t.yaml:2:1: on: must be true or false, not \"1\""},
	    {"name: a\ncount: ten\n", "t.yaml:2:1: count: must be an integer, not \"ten\""},
	    {"name: a\ncount: '10'\n", "t.yaml:2:1: count: must be an integer, not \"10\""},
	    {"name: a\ncolor: pink\n",
	     "t.yaml:2:1: color: must be one of \"red\", \"green\" or \"blue\", not \"pink\""},
	    {"name: a\ncolor: [red]\n", "t.yaml:2:1: color: must be one of \"red\", \"green\" "
	                                "or \"blue\", not a list"},
	    {"name: a\nserver: x\n", "t.yaml:2:1: server: must be a mapping, not \"x\""},
	    {"name: a\nserver: {port: 1}\n",
	     "t.yaml:2:10: server: missing required key \"host\" (a host)"},
	    {"name: a\nserver:\n  host: h\n  port: 70000\n",
	     "t.yaml:4:9: server.port: 70000 is out of range"},
	    {"name: a\nserver:\n  host: h\n  hots: h\n",
	     "t.yaml:4:3: server: unknown key \"hots\"; did you mean \"host\"? (allowed: host, "
	     "port)"},
	    {"name: a\nports: [1, x]\n", "t.yaml:2:12: ports[1]: must be a port number"},
	    {"name: a\nports: [1, 2, 3, 4]\n",
	     "t.yaml:2:1: ports: must have at most 3 entries, not 4"},
	    {"name: \"a\\nb\"\nname2: 1\n", "t.yaml:2:1: unknown key \"name2\"; did you mean "
	                                    "\"name\"? (allowed: name, on, count, color, "
	                                    "server, ports)"},
	    {"name: a\n\"x\\ty\": 1\n", "t.yaml:2:2: unknown key \"x\\ty\" (allowed: name, on, "
	                                "count, color, server, ports)"},
	    {"[a]\n", "t.yaml:1:2: must be a mapping, not a list"},
	    {"b: &b {name: x}\n", "t.yaml:1:1: unknown key \"b\" (allowed: name, on, count, "
	                          "color, server, ports)"},
	    {"<<: 5\nname: a\n", "t.yaml:1:1: a merge key (\"<<\") must be a mapping or a list "
	                         "of mappings, not a string"},
	    {"<<: {bogus: 1}\nname: a\n", "t.yaml:1:6: unknown key \"bogus\" (allowed: name, "
	                                  "on, count, color, server, ports)"},
	};
	struct fed_error err = FED_ERROR_INIT;
	struct outer o;
	size_t i;

	CHECK_INT(map_fill("name: n\non: yes\ncount: -3\ncolor: blue\n"
	                   "server: {host: h, port: 6443}\nports: [1, 2]\n",
	                   &o, &err),
	          0);
	CHECK_STR(o.name, "n");
	CHECK(o.on);
	CHECK_INT(o.count, -3);
	CHECK_INT(o.color, 2);
	CHECK_STR(o.server.host, "h");
	CHECK_INT(o.server.port, 6443);
	CHECK_INT(o.nports, 2);
	CHECK_INT(o.ports[1], 2);
	outer_free(&o);
	CHECK(o.name == NULL && o.server.host == NULL);

	/* merge keys: explicit keys win, then the merged maps in order */
	CHECK_INT(map_fill("name: n\n<<: [{count: 1, color: red}, {count: 2, on: true}]\n"
	                   "color: green\n",
	                   &o, &err),
	          0);
	CHECK_INT(o.count, 1);
	CHECK(o.on);
	CHECK_INT(o.color, 1);
	outer_free(&o);

	/* null values are absent values; an empty document is an empty mapping */
	CHECK_INT(map_fill("name: n\non: ~\nserver:\nports:\n", &o, &err), 0);
	CHECK(!o.on && o.server.host == NULL && o.nports == 0);
	outer_free(&o);
	CHECK_INT(map_fill("", &o, &err), FED_EINVAL);
	CHECK_STR(err.msg, "t.yaml: missing required key \"name\" (the name)");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(map_fill(bad[i].yaml, &o, &err), FED_EINVAL);
		CHECK_STR(err.msg, bad[i].msg);
		outer_free(&o);
	}
}

static void test_map_merge_bounds(void)
{
	struct fed_error err = FED_ERROR_INIT;
	char yaml[4096];
	struct outer o;
	size_t off = 0;
	int i;

	/* each level merges the one before twice: without the bound this is
	 * 2^20 mappings to look through */
	off += (size_t)snprintf(yaml + off, sizeof(yaml) - off, "a0: &a0 {count: 1}\n");
	for (i = 1; i <= 20; i++)
		off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
		                        "a%d: &a%d {<<: [*a%d, *a%d]}\n", i, i, i - 1, i - 1);
	snprintf(yaml + off, sizeof(yaml) - off, "x: {name: n, <<: *a20}\n");
	{
		struct fed_yaml_doc *doc = NULL;
		struct fed_yaml_map m;

		CHECK_INT(fed_yaml_parse(&doc, yaml, strlen(yaml), "t.yaml", &err), 0);
		fed_yaml_map_init(&m, doc);
		memset(&o, 0, sizeof(o));
		CHECK_INT(fed_yaml_map_fill(&m, fed_yaml_get(fed_yaml_root(doc), "x"), outer_fields,
		                            &o, &err),
		          FED_EINVAL);
		/* at the "<<" of the mapping 8 merges down from x */
		CHECK_STR(err.msg, "t.yaml:14:12: merge keys (\"<<\") nest more than 8 deep");
		outer_free(&o);
		fed_yaml_map_release(&m);
		fed_yaml_free(doc);
	}

	/* wide instead of deep */
	off = (size_t)snprintf(yaml, sizeof(yaml), "a: &a {count: 1}\nx: {name: n, <<: [");
	for (i = 0; i < 40; i++)
		off += (size_t)snprintf(yaml + off, sizeof(yaml) - off, "%s*a", i ? ", " : "");
	snprintf(yaml + off, sizeof(yaml) - off, "]}\n");
	{
		struct fed_yaml_doc *doc = NULL;
		struct fed_yaml_map m;

		CHECK_INT(fed_yaml_parse(&doc, yaml, strlen(yaml), "t.yaml", &err), 0);
		fed_yaml_map_init(&m, doc);
		memset(&o, 0, sizeof(o));
		CHECK_INT(fed_yaml_map_fill(&m, fed_yaml_get(fed_yaml_root(doc), "x"), outer_fields,
		                            &o, &err),
		          FED_EINVAL);
		CHECK_STR(err.msg, "t.yaml:1:8: more than 32 mappings merged with \"<<\"");
		outer_free(&o);
		fed_yaml_map_release(&m);
		fed_yaml_free(doc);
	}
}

static void test_quote(void)
{
	char buf[16], tiny[4];

	CHECK_STR(fed_yaml_map_quote(buf, sizeof(buf), "abc", 3), "\"abc\"");
	CHECK_STR(fed_yaml_map_quote(buf, sizeof(buf), "a\"b\\c\n", 6), "\"a\\\"b\\\\c\\n\"");
	CHECK_STR(fed_yaml_map_quote(buf, sizeof(buf), "\x01", 1), "\"\\x01\"");
	CHECK_STR(fed_yaml_map_quote(buf, sizeof(buf), "abcdefghijklmnop", 16),
	          "\"abcdefghij...\"");
	/* a cut never splits a UTF-8 character: "é" is 2 bytes */
	CHECK_STR(fed_yaml_map_quote(buf, sizeof(buf), "abcdefghi\xc3\xa9", 11),
	          "\"abcdefghi...\"");
	CHECK_STR(fed_yaml_map_quote(buf, sizeof(buf), "abcdefgh\xc3\xa9", 10),
	          "\"abcdefgh\xc3\xa9\"");
	CHECK_STR(fed_yaml_map_quote(tiny, sizeof(tiny), "abc", 3), "");
}

int main(void)
{
	RUN(test_seed);
	RUN(test_mixed);
	RUN(test_anchors);
	RUN(test_document_errors);
	RUN(test_cluster_errors);
	RUN(test_cluster_fields);
	RUN(test_failed_names);
	RUN(test_duplicates);
	RUN(test_limits);
	RUN(test_server_url);
	RUN(test_cidr);
	RUN(test_cidr_contains);
	RUN(test_pick_address);
	RUN(test_local_addresses);
	RUN(test_map);
	RUN(test_map_merge_bounds);
	RUN(test_quote);
	RUN(test_tunnel);
	return CHECK_EXIT();
}
