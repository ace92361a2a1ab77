/* fed-controller's hooks (hooks.c): subscribers get every message in
 * subscription order, an unsubscribed one gets none, and the wired
 * questions answer NULL/0/false while no part is wired. */
#include <string.h>

#include "check.h"

#include "../../fed-controller/hooks.c"

static char seen[256];

static void rec(struct controller *ctl, const struct hooks_msg *m, void *ud)
{
	size_t n = strlen(seen);

	/* names, not numbers: adding an event must not change the test */
	const char *ev = m->ev == HOOKS_MEMBER_LABELS   ? "labels"
	                 : m->ev == HOOKS_MEMBERS_KNOWN ? "known"
	                                                : "other";

	snprintf(seen + n, sizeof(seen) - n, "%s:%s:%s ", (const char *)ud, ev,
	         m->cluster ? m->cluster : "-");
}

static void test_order_and_unsubscribe(void)
{
	struct controller ctl;
	struct fed_error err = FED_ERROR_INIT;
	struct hooks_msg labels = {HOOKS_MEMBER_LABELS, "m1", NULL, NULL, NULL};
	struct hooks_msg known = {.ev = HOOKS_MEMBERS_KNOWN};

	memset(&ctl, 0, sizeof(ctl));
	CHECK_INT(hooks_init(&ctl, &err), 0);
	CHECK_INT(hooks_subscribe(&ctl, rec, "a"), 0);
	CHECK_INT(hooks_subscribe(&ctl, rec, "b"), 0);
	seen[0] = '\0';
	hooks_publish(&ctl, &labels);
	CHECK_STR(seen, "a:labels:m1 b:labels:m1 ");
	hooks_unsubscribe(&ctl, rec, "a");
	seen[0] = '\0';
	hooks_publish(&ctl, &known);
	CHECK_STR(seen, "b:known:- ");
	hooks_unsubscribe(&ctl, rec, "b");
	hooks_unsubscribe(&ctl, rec, "nobody"); /* unknown: nothing */
	seen[0] = '\0';
	hooks_publish(&ctl, &known);
	CHECK_STR(seen, "");
	hooks_free(&ctl);
	CHECK(ctl.hooks == NULL);
}

static void test_full(void)
{
	struct controller ctl;
	struct fed_error err = FED_ERROR_INIT;
	int i;

	memset(&ctl, 0, sizeof(ctl));
	CHECK_INT(hooks_init(&ctl, &err), 0);
	for (i = 0; i < MAX_SUBSCRIBERS; i++)
		CHECK_INT(hooks_subscribe(&ctl, rec, "x"), 0);
	CHECK_INT(hooks_subscribe(&ctl, rec, "y"), FED_EINVAL);
	hooks_free(&ctl);
}

static const char *url(struct controller *ctl, const char *c)
{
	return "http://127.0.0.1:1";
}
static const char *sock(struct controller *ctl, const char *c)
{
	return "/run/x.sock";
}
static long long expiry(struct controller *ctl, const char *c)
{
	return 42;
}
static int connected(struct controller *ctl, const char *c)
{
	return 2;
}
static cJSON *status(struct controller *ctl, const char *c)
{
	return NULL;
}
static const char *connect_sock(struct controller *ctl, const char *c)
{
	return strcmp(c, "m1") ? NULL : "/run/x_connect.sock";
}
static int resyncs;
static void resync(struct controller *ctl)
{
	resyncs++;
}
static bool synced(struct controller *ctl)
{
	return true;
}

static void test_wired(void)
{
	static const struct hooks_agents agents = {url,       sock,   expiry,
	                                           connected, status, connect_sock};
	/* wired without cluster connect */
	static const struct hooks_agents older = {.url = url, .socket = sock};
	static const struct hooks_members members = {resync, synced};
	struct controller ctl;
	struct fed_error err = FED_ERROR_INIT;

	memset(&ctl, 0, sizeof(ctl));
	/* before init, and before anything is wired: neutral answers */
	CHECK(hooks_agent_url(&ctl, "m1") == NULL);
	CHECK_INT(hooks_inputs_synced(&ctl), 0);
	hooks_resync(&ctl);
	CHECK_INT(hooks_init(&ctl, &err), 0);
	CHECK(hooks_agent_socket(&ctl, "m1") == NULL);
	CHECK(hooks_agent_connect_socket(&ctl, "m1") == NULL);
	CHECK_INT((int)hooks_agent_credential_expiry(&ctl, "m1"), 0);
	CHECK_INT(hooks_agents_connected(&ctl, "m1"), 0);
	hooks_set_agents(&ctl, &agents);
	hooks_set_members(&ctl, &members);
	CHECK_STR(hooks_agent_url(&ctl, "m1"), "http://127.0.0.1:1");
	CHECK_STR(hooks_agent_socket(&ctl, "m1"), "/run/x.sock");
	CHECK_STR(hooks_agent_connect_socket(&ctl, "m1"), "/run/x_connect.sock");
	CHECK(hooks_agent_connect_socket(&ctl, "m2") == NULL);
	CHECK_INT((int)hooks_agent_credential_expiry(&ctl, "m1"), 42);
	CHECK_INT(hooks_agents_connected(&ctl, "m1"), 2);
	CHECK(hooks_agent_status(&ctl, "m1") == NULL);
	hooks_resync(&ctl);
	CHECK_INT(resyncs, 1);
	CHECK_INT(hooks_inputs_synced(&ctl), 1);
	hooks_set_agents(&ctl, &older);
	CHECK_STR(hooks_agent_socket(&ctl, "m1"), "/run/x.sock");
	CHECK(hooks_agent_connect_socket(&ctl, "m1") == NULL);
	hooks_set_agents(&ctl, NULL); /* the tunnel stopped */
	CHECK(hooks_agent_url(&ctl, "m1") == NULL);
	CHECK(hooks_agent_connect_socket(&ctl, "m1") == NULL);
	hooks_free(&ctl);
}

int main(void)
{
	RUN(test_order_and_unsubscribe);
	RUN(test_full);
	RUN(test_wired);
	return CHECK_EXIT();
}
