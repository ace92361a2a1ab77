/* fed_status_writer: `written` is the content last written or in flight
 * (what the object shows, or will once the write lands); the newest
 * submit made while a write is in flight waits in next_*, replacing an
 * older waiting one, and goes out when the write ends. */
#include <stdlib.h>
#include <string.h>

#include "fed/workqueue.h"

void fed_status_writer_init(struct fed_status_writer *w, fed_status_write_fn write, void *ud)
{
	memset(w, 0, sizeof(*w));
	w->write = write;
	w->ud = ud;
}

static void drop_next(struct fed_status_writer *w)
{
	free(w->next_version);
	free(w->next_body);
	w->next_version = w->next_body = NULL;
}

void fed_status_writer_release(struct fed_status_writer *w)
{
	if (!w)
		return;
	drop_next(w);
	free(w->written);
	w->written = NULL;
	w->inflight = false;
}

static const char *newest(const struct fed_status_writer *w)
{
	return w->next_version ? w->next_version : w->written;
}

bool fed_status_writer_wants(const struct fed_status_writer *w, const char *version)
{
	const char *n = newest(w);

	return !version || !n || strcmp(n, version);
}

/* Start writing body as version; on failure `written` is what it was. */
static int start(struct fed_status_writer *w, char *version, const char *body,
                 struct fed_error *err)
{
	char *prev = w->written;
	int rc;

	w->written = version;
	w->inflight = true;
	w->writes++;
	rc = w->write(w->ud, body, err);
	if (rc) {
		/* a done from inside the failed start is not possible: restore */
		w->inflight = false;
		w->written = prev;
		free(version);
		return rc;
	}
	free(prev);
	return 0;
}

int fed_status_writer_submit(struct fed_status_writer *w, const char *version, const char *body,
                             struct fed_error *err)
{
	char *v = NULL, *b = NULL;
	int rc = 0;

	if (!version || !body) {
		rc = fed_error_set(err, FED_EINVAL,
		                   "status writer: a version and a body are needed");
		goto out;
	}
	if (!fed_status_writer_wants(w, version))
		goto out;
	if (!(v = strdup(version))) {
		rc = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	if (w->inflight) {
		drop_next(w);
		/* back to what is in flight: nothing waits */
		if (!strcmp(w->written, version)) /* set while in flight */
			goto out;
		if (!(b = strdup(body))) {
			rc = fed_error_set(err, FED_ENOMEM, "out of memory");
			goto out;
		}
		w->next_version = v;
		w->next_body = b;
		v = b = NULL;
		goto out;
	}
	rc = start(w, v, body, err);
	v = NULL;
out:
	free(v);
	free(b);
	return rc;
}

int fed_status_writer_done(struct fed_status_writer *w, bool ok, struct fed_error *err)
{
	char *v = NULL, *b = NULL;
	int rc = 0;

	if (!w->inflight)
		goto out;
	w->inflight = false;
	if (!ok) {
		free(w->written);
		w->written = NULL;
	}
	v = w->next_version;
	b = w->next_body;
	w->next_version = w->next_body = NULL;
	if (!v) /* a waiting one differs from what was in flight (submit) */
		goto out;
	rc = start(w, v, b, err);
	v = NULL;
out:
	free(v);
	free(b);
	return rc;
}

int fed_status_writer_assume(struct fed_status_writer *w, const char *version)
{
	char *v = NULL;

	if (w->inflight || !version)
		return 0;
	if (!(v = strdup(version)))
		return FED_ENOMEM;
	free(w->written);
	w->written = v;
	return 0;
}
