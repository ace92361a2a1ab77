/* The subscriptions and the wired functions of hooks.h. */
#include <stdlib.h>

#include "controller.h"

#define MAX_SUBSCRIBERS 8 /* members' listeners: propagation, rsp, tunnel, ... */

struct hooks {
	struct {
		hooks_fn fn;
		void *ud;
	} subs[MAX_SUBSCRIBERS];
	size_t n;
	const struct hooks_agents *agents;
	const struct hooks_members *members;
};

int hooks_init(struct controller *ctl, struct fed_error *err)
{
	if (!(ctl->hooks = calloc(1, sizeof(*ctl->hooks))))
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	return 0;
}

void hooks_free(struct controller *ctl)
{
	free(ctl->hooks);
	ctl->hooks = NULL;
}

int hooks_subscribe(struct controller *ctl, hooks_fn fn, void *ud)
{
	struct hooks *h = ctl->hooks;

	if (h->n == MAX_SUBSCRIBERS)
		return FED_EINVAL; /* a programming error: raise MAX_SUBSCRIBERS */
	h->subs[h->n].fn = fn;
	h->subs[h->n].ud = ud;
	h->n++;
	return 0;
}

void hooks_unsubscribe(struct controller *ctl, hooks_fn fn, void *ud)
{
	struct hooks *h = ctl->hooks;
	size_t i;

	for (i = 0; h && i < h->n; i++) {
		if (h->subs[i].fn != fn || h->subs[i].ud != ud)
			continue;
		h->n--;
		for (; i < h->n; i++)
			h->subs[i] = h->subs[i + 1];
		break;
	}
}

void hooks_publish(struct controller *ctl, const struct hooks_msg *m)
{
	struct hooks *h = ctl->hooks;
	size_t i;

	/* a subscriber may unsubscribe others (a feature stopping): re-read n */
	for (i = 0; h && i < h->n; i++)
		h->subs[i].fn(ctl, m, h->subs[i].ud);
}

void hooks_set_agents(struct controller *ctl, const struct hooks_agents *a)
{
	ctl->hooks->agents = a;
}

void hooks_set_members(struct controller *ctl, const struct hooks_members *m)
{
	ctl->hooks->members = m;
}

const char *hooks_agent_url(struct controller *ctl, const char *cluster)
{
	const struct hooks_agents *a = ctl->hooks ? ctl->hooks->agents : NULL;

	return a ? a->url(ctl, cluster) : NULL;
}

const char *hooks_agent_socket(struct controller *ctl, const char *cluster)
{
	const struct hooks_agents *a = ctl->hooks ? ctl->hooks->agents : NULL;

	return a ? a->socket(ctl, cluster) : NULL;
}

const char *hooks_agent_connect_socket(struct controller *ctl, const char *cluster)
{
	const struct hooks_agents *a = ctl->hooks ? ctl->hooks->agents : NULL;

	return a && a->connect_socket ? a->connect_socket(ctl, cluster) : NULL;
}

long long hooks_agent_credential_expiry(struct controller *ctl, const char *cluster)
{
	const struct hooks_agents *a = ctl->hooks ? ctl->hooks->agents : NULL;

	return a ? a->credential_expiry(ctl, cluster) : 0;
}

int hooks_agents_connected(struct controller *ctl, const char *cluster)
{
	const struct hooks_agents *a = ctl->hooks ? ctl->hooks->agents : NULL;

	return a ? a->connected(ctl, cluster) : 0;
}

cJSON *hooks_agent_status(struct controller *ctl, const char *cluster)
{
	const struct hooks_agents *a = ctl->hooks ? ctl->hooks->agents : NULL;

	return a ? a->status(ctl, cluster) : NULL;
}

void hooks_resync(struct controller *ctl)
{
	const struct hooks_members *m = ctl->hooks ? ctl->hooks->members : NULL;

	if (m)
		m->resync(ctl);
}

bool hooks_inputs_synced(struct controller *ctl)
{
	const struct hooks_members *m = ctl->hooks ? ctl->hooks->members : NULL;

	return m && m->inputs_synced(ctl);
}
