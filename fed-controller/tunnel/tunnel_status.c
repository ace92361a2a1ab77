/* What the tunnel tells about a cluster's agents: how many are connected,
 * the credential's expiry and the agent's last metadata, for the
 * KubeFedCluster's status. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "tunnel_internal.h"

long long tunnel_credential_expiry(struct controller *ctl, const char *cluster)
{
	struct tunnel *t = ctl->tunnel;
	struct tcluster *tc = t ? fed_map_get(&t->clusters, cluster) : NULL;
	long long stored =
	    t && fed_informer_synced(t->secret) ? tunnel_stored_expiry(t, cluster) : 0;

	return tc && tc->cred_expiry > stored ? tc->cred_expiry : stored;
}

int tunnel_agents_connected(struct controller *ctl, const char *cluster)
{
	struct tcluster *tc = ctl->tunnel ? fed_map_get(&ctl->tunnel->clusters, cluster) : NULL;

	return tc ? tunnel_ready_conns(tc) : 0;
}

static void iso(double t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

cJSON *tunnel_agent_status(struct controller *ctl, const char *cluster)
{
	struct tcluster *tc = ctl->tunnel ? fed_map_get(&ctl->tunnel->clusters, cluster) : NULL;
	long long expiry = tunnel_credential_expiry(ctl, cluster);
	cJSON *a;
	char ts[32];

	if (!tc && !expiry)
		return NULL;
	a = cJSON_CreateObject();
	cJSON_AddNumberToObject(a, "connectedAgents", tc ? tunnel_ready_conns(tc) : 0);
	if (expiry) {
		iso((double)expiry, ts);
		cJSON_AddStringToObject(a, "credentialExpiry", ts);
	}
	if (tc && tc->have_shown) {
		const struct fed_agent_metadata *m = &tc->shown;

		if (m->agent_version[0])
			cJSON_AddStringToObject(a, "agentVersion", m->agent_version);
		if (m->kubernetes_version[0])
			cJSON_AddStringToObject(a, "kubernetesVersion", m->kubernetes_version);
		if (m->nodes >= 0)
			cJSON_AddNumberToObject(a, "nodeCount", (double)m->nodes);
		if (m->cores >= 0)
			cJSON_AddNumberToObject(a, "coreCount", (double)m->cores);
		if (m->cpu_seconds >= 0)
			cJSON_AddNumberToObject(a, "cpuSeconds", round(m->cpu_seconds * 100) / 100);
		if (m->memory_bytes >= 0)
			cJSON_AddNumberToObject(a, "memoryBytes", (double)m->memory_bytes);
		/* the loop's clock is monotonic: convert to wall time */
		iso((double)time(NULL) - (ev_now(ctl->loop) - tc->shown_heartbeat), ts);
		cJSON_AddStringToObject(a, "lastHeartbeatTime", ts);
	}
	return a;
}

bool tunnel_config_mode_agent(struct controller *ctl, const char *cluster)
{
	struct member *m = members_get(ctl, cluster);
	const char *mode = m ? member_mode(m) : NULL;

	return mode && !strcmp(mode, "agent");
}
