/* Health thresholds and cluster facts. */
#include "check.h"
#include "fed/cluster_health.h"

static void test_first_verdicts(void)
{
	struct fed_health h;

	fed_health_init(&h, 3, 1);
	CHECK_STR(fed_health_connectivity(h.state), "Connecting");
	/* one success is enough to become ready (success threshold 1) */
	CHECK(fed_health_observe(&h, FED_PROBE_OK, "/readyz responded with ok", 100));
	CHECK_INT(h.state, FED_HEALTH_READY);
	CHECK_STR(h.reason, "ClusterReady");
	CHECK_STR(fed_health_connectivity(h.state), "Connected");
	CHECK_INT(h.last_transition, 100);
	/* a new cluster that never answers stays Connecting until 3 failures */
	fed_health_init(&h, 3, 1);
	CHECK(!fed_health_observe(&h, FED_PROBE_UNREACHABLE, "x", 1));
	CHECK(!fed_health_observe(&h, FED_PROBE_UNREACHABLE, "x", 2));
	CHECK_INT(h.state, FED_HEALTH_CONNECTING);
	CHECK(fed_health_observe(&h, FED_PROBE_UNREACHABLE, "x", 3));
	CHECK_INT(h.state, FED_HEALTH_OFFLINE);
	CHECK_STR(h.reason, "ClusterNotReachable");
}

static void test_consecutive_failures(void)
{
	struct fed_health h;
	int i;

	fed_health_init(&h, 3, 1);
	for (i = 0; i < 10; i++)
		fed_health_observe(&h, FED_PROBE_OK, "ok", i);
	/* kubefed's quirk would flip here after one failure; fed needs three in a row */
	CHECK(!fed_health_observe(&h, FED_PROBE_UNREACHABLE, "down", 10));
	CHECK(!fed_health_observe(&h, FED_PROBE_UNREACHABLE, "down", 11));
	CHECK(!fed_health_observe(&h, FED_PROBE_OK, "ok", 12)); /* run broken */
	CHECK(!fed_health_observe(&h, FED_PROBE_UNREACHABLE, "down", 13));
	CHECK(!fed_health_observe(&h, FED_PROBE_UNREACHABLE, "down", 14));
	CHECK_INT(h.state, FED_HEALTH_READY);
	CHECK(fed_health_observe(&h, FED_PROBE_UNREACHABLE, "down", 15));
	CHECK_INT(h.state, FED_HEALTH_OFFLINE);
	CHECK_INT(h.last_transition, 15);
	CHECK_INT(h.last_ok, 12);
	/* still offline: nothing to write */
	CHECK(!fed_health_observe(&h, FED_PROBE_UNREACHABLE, "down", 16));
	/* offline -> reachable but not ready: same readiness, detail changes at once */
	CHECK(fed_health_observe(&h, FED_PROBE_NOT_READY, "/readyz said 500", 17));
	CHECK_INT(h.state, FED_HEALTH_NOT_READY);
	CHECK_STR(fed_health_connectivity(h.state), "Connected");
	/* back: one success */
	CHECK(fed_health_observe(&h, FED_PROBE_OK, "ok", 18));
	CHECK_INT(h.state, FED_HEALTH_READY);
}

static void test_success_threshold(void)
{
	struct fed_health h;

	fed_health_init(&h, 1, 2);
	CHECK(fed_health_observe(&h, FED_PROBE_UNAUTHORIZED, "401", 1));
	CHECK_INT(h.state, FED_HEALTH_EXPIRED);
	CHECK_STR(fed_health_connectivity(h.state), "Expired");
	CHECK(!fed_health_observe(&h, FED_PROBE_OK, "ok", 2));
	CHECK(fed_health_observe(&h, FED_PROBE_OK, "ok", 3));
	CHECK_INT(h.state, FED_HEALTH_READY);

	/* a server that cannot be verified is not reachable as far as we care */
	fed_health_init(&h, 1, 1);
	CHECK(fed_health_observe(&h, FED_PROBE_TLS, "unknown CA", 1));
	CHECK_INT(h.state, FED_HEALTH_OFFLINE);
	CHECK_STR(h.reason, "ClusterTLSError");
	CHECK_STR(fed_health_connectivity(h.state), "Offline");
}

static void test_classify(void)
{
	struct fed_error tls = {FED_ETLS, 0, "", "x"};
	struct fed_error down = {FED_EUNAVAILABLE, 0, "", "x"};

	CHECK_INT(fed_health_classify(200, NULL, "ok"), FED_PROBE_OK);
	CHECK_INT(fed_health_classify(200, NULL, "[-]etcd failed"), FED_PROBE_NOT_READY);
	CHECK_INT(fed_health_classify(500, NULL, "x"), FED_PROBE_NOT_READY);
	CHECK_INT(fed_health_classify(401, NULL, NULL), FED_PROBE_UNAUTHORIZED);
	CHECK_INT(fed_health_classify(403, NULL, NULL), FED_PROBE_FORBIDDEN);
	CHECK_INT(fed_health_classify(0, &tls, NULL), FED_PROBE_TLS);
	CHECK_INT(fed_health_classify(0, &down, NULL), FED_PROBE_UNREACHABLE);
}

static void test_facts(void)
{
	const char *aks[] = {"kubernetes.io/hostname", "kubernetes.azure.com/cluster", NULL};
	const char *plain[] = {"kubernetes.io/hostname", NULL};

	CHECK_STR(fed_cluster_distribution("v1.29.3-eks-adc7111", "aws:///us-east-1a/i-1", plain),
	          "eks");
	CHECK_STR(fed_cluster_distribution("v1.30.1-gke.1329003", "gce://p/z/n", plain), "gke");
	CHECK_STR(fed_cluster_distribution("v1.31.2", "azure:///subscriptions/x", aks), "aks");
	CHECK_STR(fed_cluster_distribution("v1.31.4+k3s1", NULL, plain), "k3s");
	CHECK_STR(fed_cluster_distribution("v1.36.3", "kwok://member1-node-0", plain), "kwok");
	CHECK_STR(fed_cluster_distribution("v1.36.3", NULL, NULL), "generic");
	CHECK_STR(fed_cluster_infrastructure("aws:///us-east-1a/i-1"), "aws");
	CHECK_STR(fed_cluster_infrastructure("gce://p/z/n"), "gcp");
	CHECK_STR(fed_cluster_infrastructure("kwok://n"), "kwok");
	CHECK_STR(fed_cluster_infrastructure(NULL), "generic");
	CHECK_STR(fed_cluster_infrastructure("metal://x"), "generic");
}

int main(void)
{
	RUN(test_first_verdicts);
	RUN(test_consecutive_failures);
	RUN(test_success_threshold);
	RUN(test_classify);
	RUN(test_facts);
	return CHECK_EXIT();
}
