/* The host side of the agent tunnel: a TLS listener for fed-agents, their
 * authentication (one-time bootstrap tokens exchanged for an HMAC-signed
 * per-cluster credential), and per cluster a loopback listener whose
 * connections are carried over tunnel streams, so that the member's
 * ordinary kube client (health, informers, propagation) reaches the
 * member's apiserver through its agent. Authentication and the Secret
 * are in tunnel_auth.c, generated material in tunnel_material.c, the
 * listeners (and the caps on connections not yet authenticated) in
 * tunnel_listen.c, what the status shows of the agents in
 * tunnel_status.c.
 *
 * Material lives in the host Secret --tunnel-secret-name (config
 * namespace): tls.crt and tls.key (the tunnel's certificate, which agents
 * pin; generated when missing), credential-key (HMAC key, generated when
 * missing) and one bootstrap-<sha256 of the token> entry per unused token,
 * whose value is "<cluster> <expiry, unix seconds>". A token is removed
 * from the Secret when it is used. credential-expiry-<cluster> holds the
 * expiry (unix seconds) of the newest credential issued to that cluster's
 * agents, so that a restarted controller still knows when the cluster
 * goes Expired.
 *
 * Credentials rotate on live connections: a connection whose credential
 * reached 40% of --tunnel-credential-lifetime gets a fresh one
 * (CREDENTIAL frame). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "fed/federation.h"
#include "fed/log.h"
#include "fed/tunnel_conn.h"
#include "podlabel.h"
#include "tunnel_internal.h"

void tunnel_count_refused(struct tunnel *t, const char *reason)
{
	fed_metrics_inc(t->m_refused, (const char *[]){reason});
}

static void update_agents_metric(struct tcluster *tc)
{
	int ready = 0;

	for (int i = 0; i < tc->nconns; i++)
		ready += fed_tunnel_conn_ready(tc->conns[i]);
	fed_metrics_set(tc->t->m_agents, (const char *[]){tc->name}, ready);
}

/* ---- agent connections ---- */

static void on_ready(struct fed_tunnel_conn *c, const char *cluster, const char *cred, void *ud)
{
	struct tunnel *t = ud;
	struct tcluster *tc = tunnel_cluster_get(t, cluster, true);
	bool first;

	tunnel_pending_drop(t, c);
	/* tunnel_on_auth checked the count, before spending a token */
	if (!tc || tc->nconns >= t->ctl->o.tunnel_max_agents) {
		FED_LOG_WARN(cluster, "tunnel: refusing agent %s: %s", fed_tunnel_conn_name(c),
		             tc ? "too many agents for this cluster" : "no loopback listener");
		fed_tunnel_conn_shutdown(c, FED_TUNNEL_GOAWAY_SHUTDOWN, "too many agents");
		fed_tunnel_conn_free(c);
		return;
	}
	first = tc->nconns == 0;
	/* its credential is of the stored generation (older ones are refused) */
	{
		unsigned long long g = tunnel_generation(t, cluster, NULL);

		if (tc->gen_seen < g)
			tc->gen_seen = g;
	}
	tc->issued[tc->nconns] = ev_now(t->ctl->loop);
	tc->conns[tc->nconns++] = c;
	tc->last_heartbeat = ev_now(t->ctl->loop);
	update_agents_metric(tc);
	FED_LOG_INFO(cluster, "tunnel: agent %s connected (%d connection%s; cluster connect: %s)",
	             fed_tunnel_conn_name(c), tc->nconns, tc->nconns == 1 ? "" : "s",
	             fed_tunnel_conn_peer_features(c) & FED_TUNNEL_FEATURE_CONNECT
	                 ? "served"
	                 : "not served by this agent's version");
	if (first)
		hooks_resync(t->ctl);
	member_status_changed(t->ctl, tc->name);
}

static struct tcluster *cluster_of(struct tunnel *t, struct fed_tunnel_conn *c)
{
	const char *name = fed_tunnel_conn_ready(c) ? fed_tunnel_conn_cluster(c) : NULL;

	return name ? fed_map_get(&t->clusters, name) : NULL;
}

/* Take the latest metadata and heartbeat into status.agent. */
static void show_metadata(struct tcluster *tc)
{
	if (!tc->have_meta)
		return;
	tc->shown = tc->meta;
	tc->have_shown = true;
	tc->shown_heartbeat = tc->last_heartbeat;
	tc->shown_at = ev_now(tc->t->ctl->loop);
	member_status_changed(tc->t->ctl, tc->name);
}

static void on_metadata(struct fed_tunnel_conn *c, const char *json, size_t len, void *ud)
{
	struct tcluster *tc = cluster_of(ud, c);

	struct fed_error err = FED_ERROR_INIT;
	struct fed_agent_metadata m;

	if (!tc)
		return;
	if (fed_agent_metadata_parse(json, len, &m, &err) < 0) {
		FED_LOG_WARN(tc->name, "tunnel: ignoring metadata from agent %s: %s",
		             fed_tunnel_conn_name(c), err.msg);
		return;
	}
	free(tc->metadata);
	tc->metadata = strndup(json, len);
	FED_LOG_DEBUG(tc->name, "tunnel: metadata %s", tc->metadata ? tc->metadata : "");
	tc->meta = m;
	tc->have_meta = true;
	/* a new version or node count shows at once; resource use waits */
	if (!tc->have_shown || fed_agent_metadata_changed(&tc->shown, &m))
		show_metadata(tc);
}

static void on_heartbeat(struct fed_tunnel_conn *c, void *ud)
{
	struct tcluster *tc = cluster_of(ud, c);

	if (tc)
		tc->last_heartbeat = ev_now(((struct tunnel *)ud)->ctl->loop);
}

static void on_refused(struct fed_tunnel_conn *c, const char *reason, void *ud)
{
	tunnel_count_refused(ud, reason);
}

static void on_closed(struct fed_tunnel_conn *c, const char *why, void *ud)
{
	struct tunnel *t = ud;
	struct fed_map_iter it;
	struct fed_map_entry *e;

	if (strstr(why, "malformed frame"))
		tunnel_count_refused(t, "malformed_frame");
	else if (strstr(why, "protocol violation") || strstr(why, "before authentication") ||
	         strstr(why, "unexpected"))
		tunnel_count_refused(t, "protocol");
	else if (strstr(why, "too many frames for unknown streams"))
		tunnel_count_refused(t, "unknown_stream_flood");
	tunnel_pending_drop(t, c);
	tunnel_auth_forget(t, c);
	for (e = fed_map_first(&t->clusters, &it); e; e = fed_map_next(&t->clusters, &it)) {
		struct tcluster *tc = e->value;

		for (int i = 0; i < tc->nconns; i++) {
			if (tc->conns[i] != c)
				continue;
			--tc->nconns;
			tc->conns[i] = tc->conns[tc->nconns];
			tc->issued[i] = tc->issued[tc->nconns];
			FED_LOG_WARN(tc->name, "tunnel: agent %s disconnected: %s",
			             fed_tunnel_conn_name(c), why);
			update_agents_metric(tc);
			member_status_changed(t->ctl, tc->name);
			if (tc->nconns == 0) /* it may have expired meanwhile */
				hooks_resync(t->ctl);
			goto out;
		}
	}
	{
		/* never authenticated: strangers can cause this line at will */
		static struct fed_log_limit lim = FED_LOG_LIMIT(20, 10);

		FED_LOG_LIMITED(FED_LOG_INFO, &lim, NULL, "tunnel: connection from %s closed: %s",
		                fed_tunnel_conn_name(c), why);
	}
out:
	fed_tunnel_conn_free(c);
}

int tunnel_ready_conns(const struct tcluster *tc)
{
	int n = 0;

	for (int i = 0; i < tc->nconns; i++)
		n += fed_tunnel_conn_ready(tc->conns[i]);
	return n;
}

/* Rotate the credential of each live connection that used 40% of it, or
 * of every one when force (a new generation or credential-key). */
static void rotate(struct tcluster *tc, double now, bool force)
{
	struct tunnel *t = tc->t;
	unsigned long long gen = tunnel_generation(t, tc->name, NULL);

	for (int i = 0; i < tc->nconns; i++) {
		long long expiry;
		char *cred;

		if (!fed_tunnel_conn_ready(tc->conns[i]) ||
		    (!force && now - tc->issued[i] < t->ctl->o.tunnel_cred_lifetime * ROTATE_AT))
			continue;
		cred = tunnel_issue_credential(t, tc->name, gen, &expiry);
		if (!cred)
			continue;
		if (fed_tunnel_conn_send_credential(tc->conns[i], cred) == 0) {
			tc->issued[i] = now;
			tunnel_note_expiry(t, tc->name, expiry);
			FED_LOG_INFO(tc->name, "tunnel: rotated the credential of agent %s",
			             fed_tunnel_conn_name(tc->conns[i]));
			member_status_changed(t->ctl, tc->name);
		}
		OPENSSL_cleanse(cred, strlen(cred));
		free(cred);
	}
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tunnel *t = w->data;
	double now = ev_now(loop), wall = (double)time(NULL);
	const cJSON *e;
	struct fed_map_iter it;
	struct fed_map_entry *me;
	bool crossed = false;

	for (me = fed_map_first(&t->clusters, &it); me; me = fed_map_next(&t->clusters, &it)) {
		struct tcluster *tc = me->value;

		rotate(tc, now, false);
		if (tc->cred_expiry > t->last_tick && tc->cred_expiry <= wall)
			crossed = true;
		if (tunnel_ready_conns(tc) && tc->have_meta && now - tc->shown_at >= STATUS_REFRESH)
			show_metadata(tc);
	}
	/* clusters known only from the Secret (after a restart) */
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(tunnel_secret_obj(t), "data")) {
		long long x;

		if (!e->string || strncmp(e->string, "credential-expiry-", 18))
			continue;
		x = tunnel_stored_expiry(t, e->string + 18);
		if (x > t->last_tick && x <= wall)
			crossed = true;
	}
	t->last_tick = wall;
	if (crossed) /* a credential lapsed: Expired if no agent holds a newer one */
		hooks_resync(t->ctl);
}

const struct fed_tunnel_conn_cb tunnel_conn_cb = {
    .auth = tunnel_on_auth,
    .ready = on_ready,
    .metadata = on_metadata,
    .heartbeat = on_heartbeat,
    .refused = on_refused,
    .closed = on_closed,
};

/* What a new Secret means for the live connections: a cluster whose
 * generation went up gets new credentials on its live connections
 * (fedctl rotate), or loses them ("<n> revoke": delete, re-join); a new
 * credential-key re-issues every live connection's credential (the old
 * ones no longer verify). */
static void sweep_connections(struct tunnel *t, bool new_key)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;
	double now = ev_now(t->ctl->loop);

	for (e = fed_map_first(&t->clusters, &it); e; e = fed_map_next(&t->clusters, &it)) {
		struct tcluster *tc = e->value;
		bool revoke = false;
		unsigned long long g = tunnel_generation(t, tc->name, &revoke);
		bool bumped = g > tc->gen_seen;

		if (bumped)
			tc->gen_seen = g;
		if (!tc->nconns || (!bumped && !new_key))
			continue;
		if (bumped && revoke) {
			FED_LOG_INFO(
			    tc->name,
			    "tunnel: credentials revoked (generation %llu): closing %d agent "
			    "connection%s",
			    g, tc->nconns, tc->nconns == 1 ? "" : "s");
			for (int i = 0; i < tc->nconns; i++)
				fed_tunnel_conn_shutdown(tc->conns[i], FED_TUNNEL_GOAWAY_AUTH,
				                         "credential revoked");
			continue;
		}
		FED_LOG_INFO(tc->name, "tunnel: %s: new credentials for %d live agent connection%s",
		             new_key ? "new credential-key" : "credentials rotated", tc->nconns,
		             tc->nconns == 1 ? "" : "s");
		rotate(tc, now, true);
	}
}

/* SHA-256 of the certificate and key, to see them change. */
static void tls_digest(const char *crt, size_t crt_len, const char *key, size_t key_len,
                       unsigned char md[32])
{
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	unsigned int n = 0;

	memset(md, 0, 32);
	if (x && EVP_DigestInit_ex(x, EVP_sha256(), NULL) && EVP_DigestUpdate(x, crt, crt_len) &&
	    EVP_DigestUpdate(x, "\n--\n", 4) && EVP_DigestUpdate(x, key, key_len))
		EVP_DigestFinal_ex(x, md, &n);
	EVP_MD_CTX_free(x);
}

/* The Secret changed: start serving once the material is there and the
 * Federation config was read (before that every agent would be refused as
 * not_agent_cluster, and would back off just when a new leader wants it).
 * Once serving, a new certificate or credential-key takes effect at once:
 * new handshakes get the new certificate (live connections keep their
 * TLS session), credentials are issued and checked with the new key. */
void tunnel_secret_changed(struct tunnel *t)
{
	struct fed_error err = FED_ERROR_INIT;
	size_t crt_len = 0, key_len = 0, hk_len = 0, use;
	char *crt, *key, *hk;
	unsigned char md[32];
	SSL_CTX *ctx = NULL;
	bool new_key = false;

	if (!fed_informer_synced(t->secret))
		return;
	crt = tunnel_secret_value(t, "tls.crt", &crt_len);
	key = tunnel_secret_value(t, "tls.key", &key_len);
	hk = tunnel_secret_value(t, "credential-key", &hk_len);
	if (!crt || !key || !hk || hk_len < 16) {
		/* after a failed write, the retry timer asks again */
		if (!t->requested && !ev_is_active(&t->material_retry))
			tunnel_request_material(t);
		goto out;
	}
	if (!t->config_seen)
		goto out; /* tunnel_members_known() comes back here */
	use = hk_len > sizeof(t->key) ? sizeof(t->key) : hk_len;
	tls_digest(crt, crt_len, key, key_len, md);
	if (t->ctx) {
		if (CRYPTO_memcmp(md, t->tls_md, sizeof(md))) {
			if (fed_tunnel_tls_server_ctx(crt, key, &ctx, &err) < 0) {
				FED_LOG_ERR(
				    NULL,
				    "tunnel: secret %s/%s: new certificate not used: %s (the "
				    "previous one is still served)",
				    t->ctl->o.config_namespace, t->ctl->o.tunnel_secret, err.msg);
			} else {
				/* live connections hold a reference to the old one */
				SSL_CTX_free(t->ctx);
				t->ctx = ctx;
				memcpy(t->tls_md, md, sizeof(md));
				FED_LOG_INFO(
				    NULL,
				    "tunnel: new certificate from secret %s/%s: used for new "
				    "connections",
				    t->ctl->o.config_namespace, t->ctl->o.tunnel_secret);
			}
		}
		if (use != t->keylen || CRYPTO_memcmp(hk, t->key, use)) {
			OPENSSL_cleanse(t->key, sizeof(t->key));
			memcpy(t->key, hk, use);
			t->keylen = use;
			new_key = true;
			FED_LOG_INFO(NULL,
			             "tunnel: new credential-key from secret %s/%s: earlier "
			             "credentials are refused, live agents get new ones",
			             t->ctl->o.config_namespace, t->ctl->o.tunnel_secret);
		}
		sweep_connections(t, new_key);
		goto out;
	}
	memcpy(t->key, hk, use);
	t->keylen = use;
	if (fed_tunnel_tls_server_ctx(crt, key, &t->ctx, &err) < 0 ||
	    tunnel_listen_start(t, &err) < 0) {
		FED_LOG_ERR(NULL, "tunnel: secret %s/%s: %s", t->ctl->o.config_namespace,
		            t->ctl->o.tunnel_secret, err.msg);
		SSL_CTX_free(t->ctx);
		t->ctx = NULL;
		goto out;
	}
	memcpy(t->tls_md, md, sizeof(md));
	/* now the fed-tunnel Service may send agents here */
	podlabel_set(t->ctl->podlabel, FED_TUNNEL_LEADER, NULL, NULL);
out:
	OPENSSL_cleanse(md, sizeof(md));
	tunnel_wipe_free(crt, crt_len);
	tunnel_wipe_free(key, key_len);
	tunnel_wipe_free(hk, hk_len);
}

static void s_add(const cJSON *obj, void *ud)
{
	tunnel_secret_changed(ud);
}

static void s_update(const cJSON *old, const cJSON *obj, void *ud)
{
	tunnel_secret_changed(ud);
}

static void s_synced(void *ud)
{
	tunnel_secret_changed(ud);
}

static void members_known_now(struct controller *ctl)
{
	if (ctl->tunnel && !ctl->tunnel->config_seen) {
		ctl->tunnel->config_seen = true;
		tunnel_secret_changed(ctl->tunnel);
	}
}

static void prune(struct controller *ctl)
{
	struct tunnel *t = ctl->tunnel;
	struct fed_map_iter it;
	struct fed_map_entry *e;

	if (!t)
		return;
	for (e = fed_map_first(&t->clusters, &it); e; e = fed_map_next(&t->clusters, &it)) {
		struct tcluster *tc = e->value;

		if (!tc->nconns || tunnel_config_mode_agent(ctl, tc->name))
			continue;
		FED_LOG_INFO(tc->name,
		             "tunnel: closing %d agent connection%s: the cluster is no "
		             "longer in the Federation config with mode: agent",
		             tc->nconns, tc->nconns == 1 ? "" : "s");
		for (int i = 0; i < tc->nconns; i++)
			fed_tunnel_conn_shutdown(tc->conns[i], FED_TUNNEL_GOAWAY_SHUTDOWN,
			                         "cluster left the federation");
	}
}

/* The Federation config was applied: close the connections of clusters
 * that left it; once it was read (or found missing), the listener may
 * serve. */
static void on_members(struct controller *ctl, const struct hooks_msg *m, void *ud)
{
	if (m->ev == HOOKS_MEMBERS_APPLIED)
		prune(ctl);
	else if (m->ev == HOOKS_MEMBERS_KNOWN || m->ev == HOOKS_CONFIG_MISSING)
		members_known_now(ctl);
}

int tunnel_start(struct controller *ctl, struct fed_error *err)
{
	struct tunnel *t;
	struct fed_informer_opts o;
	char field[300];
	int rc;

	if (!ctl->o.tunnel_address || !strcmp(ctl->o.tunnel_address, "off"))
		return 0;
	hooks_set_agents(ctl, &agents_hooks);
	t = calloc(1, sizeof(*t));
	if (!t)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	t->ctl = ctl;
	t->lfd = -1;
	ev_init(&t->material_retry, tunnel_material_retry_cb);
	fed_backoff_init(&t->material_backoff, TUNNEL_MATERIAL_BACKOFF_MIN,
	                 TUNNEL_MATERIAL_BACKOFF_MAX);
	t->material_retry.data = t;
	fed_map_init(&t->clusters);
	fed_map_init(&t->used);
	ctl->tunnel = t;
	if ((rc = hooks_subscribe(ctl, on_members, t)) ||
	    (rc = fed_metrics_counter(ctl->metrics, "fed_tunnel_refused_total",
	                              "Agent connections, tokens, credentials and frames refused, "
	                              "by reason",
	                              "reason", &t->m_refused, err)) ||
	    (rc = fed_metrics_gauge(ctl->metrics, "fed_tunnel_agents",
	                            "Authenticated fed-agent connections per cluster", "cluster",
	                            &t->m_agents, err)) ||
	    (rc = fed_metrics_counter(ctl->metrics, "fed_tunnel_streams_total",
	                              "Streams opened to members through their agents", "cluster",
	                              &t->m_streams, err)) ||
	    (rc = fed_metrics_counter(ctl->metrics, "fed_tunnel_connect_streams_total",
	                              "Cluster connect streams among them (a caller's request, "
	                              "impersonated)",
	                              "cluster", &t->m_connect_streams, err)))
		return rc;
	memset(&o, 0, sizeof(o));
	o.resource = tunnel_r_secret;
	o.namespace = ctl->o.config_namespace;
	snprintf(field, sizeof(field), "metadata.name=%s", ctl->o.tunnel_secret);
	o.field_selector = field;
	o.handlers = (struct fed_informer_handlers){s_add, s_update, NULL, s_synced};
	o.ud = t;
	if ((rc = fed_informer_new(&t->secret, ctl->host, &o, err)))
		return rc;
	fed_informer_start(t->secret);
	{
		/* often enough to rotate at 40% and to see an expiry soon */
		double every = ctl->o.tunnel_cred_lifetime / 10;

		every = every < 0.25 ? 0.25 : every > 15 ? 15 : every;
		ev_timer_init(&t->tick, tick_cb, every, every);
		t->tick.data = t;
		ev_timer_start(ctl->loop, &t->tick);
	}
	return 0;
}

void tunnel_stop(struct controller *ctl)
{
	struct tunnel *t = ctl->tunnel;

	if (!t)
		return;
	hooks_unsubscribe(ctl, on_members, t);
	hooks_set_agents(ctl, NULL);
	ev_timer_stop(ctl->loop, &t->tick);
	ev_timer_stop(ctl->loop, &t->material_retry);
	fed_kube_call_cancel(t->material_call);
	tunnel_auth_stop(t);
	tunnel_listen_stop(t);
	fed_map_release(&t->clusters, tunnel_cluster_free);
	fed_map_release(&t->used, NULL);
	fed_informer_free(t->secret);
	SSL_CTX_free(t->ctx);
	OPENSSL_cleanse(t->key, sizeof(t->key));
	free(t);
	ctl->tunnel = NULL;
}

const struct hooks_agents agents_hooks = {
    .url = tunnel_member_url,
    .socket = tunnel_member_socket,
    .credential_expiry = tunnel_credential_expiry,
    .connected = tunnel_agents_connected,
    .status = tunnel_agent_status,
    .connect_socket = tunnel_member_connect_socket,
};
