/* The plan for a member that should hold the object: leave it when it is
 * as we left it, wait for the watch event of our own write, leave alone
 * what we may not touch (labelled kubefed.io/managed=false, or unlabelled
 * with adoption off), else write it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "propagation_plan_internal.h"

#define MSG_MANAGED_FALSE                                                                          \
	"the object in the member is labelled kubefed.io/managed=false: fed leaves it alone"
#define MSG_ALREADY_EXISTS                                                                         \
	"the object already exists in the member and adoption is off "                             \
	"(--adopt-resources=false): delete it there or label it kubefed.io/managed=true"

/* "gen:N" when the object has a generation (status churn leaves it
 * alone), else "rv:N" (kubefed's rule). */
static void version_of(const cJSON *obj, char *buf, size_t n)
{
	const cJSON *md = cJSON_GetObjectItem(obj, "metadata");
	const cJSON *g = cJSON_GetObjectItem(md, "generation");
	const char *rv =
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "resourceVersion"));

	if (cJSON_IsNumber(g) && g->valuedouble > 0)
		snprintf(buf, n, "gen:%.0f", g->valuedouble);
	else
		snprintf(buf, n, "rv:%s", rv ? rv : "");
}

/* Whether the informer's copy is older than what our last write
 * returned. resourceVersions are opaque to clients in principle; every
 * apiserver backed by etcd hands out increasing integers, and reading
 * them so avoids re-applying an object merely because its watch event has
 * not arrived yet. Anything unparsable counts as "not older". */
static bool older_than(const char *have, const char *recorded)
{
	const char *ha = strchr(have, ':'), *hb = strchr(recorded, ':');
	unsigned long long a, b;
	char *e1, *e2;

	/* same kind ("gen:" or "rv:") and a number after the colon */
	if (!ha || !hb || ha - have != hb - recorded ||
	    strncmp(have, recorded, (size_t)(ha - have)))
		return false;
	a = strtoull(ha + 1, &e1, 10);
	b = strtoull(hb + 1, &e2, 10);
	return e1 != ha + 1 && e2 != hb + 1 && !*e1 && !*e2 && a < b;
}

static bool same(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

static void set_record(struct fed_prop_cluster *c, enum fed_prop_reason r, const char *msg)
{
	c->record = true;
	c->reason = r;
	snprintf(c->message, sizeof(c->message), "%s", msg ? msg : "");
}

void fed_prop_plan_found(const struct fed_prop_type *t, const cJSON *found,
                         struct fed_prop_cluster *c)
{
	c->action = FED_PROP_NONE;
	if (!found) {
		c->action = FED_PROP_CREATE;
		return;
	}
	switch (fed_managed_state(found)) {
	case FED_MANAGED_FALSE:
		c->park = true;
		set_record(c, FED_PROP_R_MANAGED_LABEL_FALSE, MSG_MANAGED_FALSE);
		break;
	case FED_MANAGED_NONE:
		if (!t->adopt) {
			c->park = true;
			set_record(c, FED_PROP_R_ALREADY_EXISTS, MSG_ALREADY_EXISTS);
			break;
		}
		c->action = FED_PROP_ADOPT;
		break;
	case FED_MANAGED_YES:
		c->action = FED_PROP_UPDATE;
		break;
	}
}

void fed_prop_plan_ensure(const struct fed_prop_in *in, const struct fed_prop_member *m,
                          struct fed_prop_cluster *c)
{
	static const struct fed_prop_record none = {0};
	const struct fed_prop_record *r = m->rec ? m->rec : &none;
	struct fed_error err = FED_ERROR_INIT;
	char v[64];

	if (fed_desired_hash(in->fed, in->type.target, m->name, c->hash, &err)) {
		c->hash[0] = '\0';
		set_record(c, FED_PROP_R_APPLY_OVERRIDES_FAILED, err.msg);
		return;
	}
	if (m->managed) {
		c->event_seen = true;
		version_of(m->managed, v, sizeof(v));
		if (same(c->hash, r->hash) && r->version &&
		    (!strcmp(v, r->version) || older_than(v, r->version))) {
			/* as we left it (or our write's event is on its way) */
			if (!r->status || *r->status)
				set_record(c, FED_PROP_R_OK, NULL);
			return;
		}
		c->action = FED_PROP_UPDATE;
		return;
	}
	if (m->unmanaged && m->unmanaged_listed &&
	    fed_managed_state(m->unmanaged) == FED_MANAGED_FALSE && r->parked_at &&
	    same(c->hash, r->parked_hash))
		return; /* still labelled false: its next label change wakes us */
	if (!m->unmanaged_listed && r->parked_at && in->now - r->parked_at < FED_PROP_PARKED &&
	    same(c->hash, r->parked_hash)) {
		/* not ours to touch, and the unmanaged informer has not
		 * listed yet to tell us when its label changes: look again later */
		c->action = FED_PROP_WAIT;
		c->retry_in = FED_PROP_PARKED;
		return;
	}
	if (r->written_at && in->now - r->written_at < FED_PROP_AWAIT_EVENT &&
	    same(c->hash, r->hash)) {
		/* just written: its watch event has not arrived yet; look again
		 * later in case it never does (created and deleted at once) */
		c->action = FED_PROP_WAIT;
		c->retry_in = FED_PROP_AWAIT_EVENT;
		return;
	}
	if (!m->unmanaged_listed) {
		c->action = FED_PROP_GET;
		return;
	}
	/* An object created in the member a moment ago may not be in the
	 * store yet; then the apply adopts it, as a GET an instant earlier
	 * would have missed it too. */
	fed_prop_plan_found(&in->type, m->unmanaged, c);
}
