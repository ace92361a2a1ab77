/* The agent's per-cluster credential: where it comes from at start (the
 * member Secret --credential-secret, the file --credential-file, else the
 * bootstrap token) and where each new one goes (AUTH_OK at connect,
 * CREDENTIAL when the host rotates it on a live connection). The file is
 * replaced atomically; the Secret is written asynchronously (merge patch,
 * or create when it does not exist), latest value wins. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "agent.h"
#include "fed/kube_known.h"
#include "fed/base64.h"
#include "fed/buf.h"
#include "fed/log.h"

#define SA_NAMESPACE_FILE "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
#define SECRET_KEY        "credential"
#define STORE_RETRY       5.0 /* seconds after a failed Secret write */

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static void wipe_buf(struct fed_buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	fed_buf_release(b);
}

int agent_credential_init(struct agent *a, struct fed_error *err)
{
	const char *ns = getenv("POD_NAMESPACE");
	char buf[256] = "";
	FILE *f;

	if (!a->credential_secret)
		return 0;
	if (!ns || !*ns) {
		f = fopen(SA_NAMESPACE_FILE, "re");
		if (f) {
			if (fgets(buf, sizeof(buf), f))
				buf[strcspn(buf, "\r\n ")] = '\0';
			fclose(f);
		}
		ns = buf[0] ? buf : a->namespace_opt;
	}
	if (!ns || !*ns)
		return fed_error_set(
		    err, FED_EINVAL,
		    "--credential-secret: no namespace for it: set POD_NAMESPACE or "
		    "--namespace (outside a pod there is no ServiceAccount namespace)");
	if (strlen(ns) > 63 || strspn(ns, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(ns) ||
	    strlen(a->credential_secret) > 253 ||
	    strspn(a->credential_secret, "abcdefghijklmnopqrstuvwxyz0123456789-.") !=
	        strlen(a->credential_secret))
		return fed_error_set(err, FED_EINVAL,
		                     "--credential-secret %s in namespace %s: use DNS names "
		                     "(lowercase letters, digits, '-')",
		                     a->credential_secret, ns);
	a->secret_ns = strdup(ns);
	if (!a->secret_ns)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	ev_init(&a->store_retry, NULL);
	return 0;
}

/* The Secret (item) or the collection it is created in, in out (a fixed
 * buffer: names are DNS labels). */
static void secret_path(struct agent *a, char *out, size_t n, bool item)
{
	const struct fed_kube_ref ref = {&fed_r_secrets, a->secret_ns,
	                                 item ? a->credential_secret : NULL, NULL};
	struct fed_buf b = FED_BUF_INIT;

	out[0] = '\0';
	if (!fed_kube_path(&b, &ref))
		snprintf(out, n, "%s", b.data);
	fed_buf_release(&b);
}

/* ---- reading the Secret (before the tunnel is up) ---- */

struct load {
	bool done;
	int code;
	char *cred;
	char msg[FED_ERROR_MSG_MAX];
};

static void load_done(struct fed_kube_response *resp, void *ud)
{
	struct load *l = ud;
	const char *v =
	    fed_obj_str(cJSON_GetObjectItemCaseSensitive(resp->json, "data"), SECRET_KEY);

	l->done = true;
	l->code = resp->err.code;
	if (resp->err.code) {
		snprintf(l->msg, sizeof(l->msg), "%s", resp->err.msg);
		return;
	}
	if (v) {
		char *out = NULL;
		size_t m = 0;

		if (fed_base64_decode(FED_BASE64_STD, v, strlen(v), &out, &m) < 0) {
			l->code = FED_EINVAL;
			snprintf(l->msg, sizeof(l->msg), "key %s is not base64", SECRET_KEY);
			return;
		}
		while (m > 0 && (out[m - 1] == '\0' || out[m - 1] == '\n'))
			m--; /* a value written with a trailing newline or NUL */
		out[m] = '\0';
		l->cred = out;
	}
}

int agent_credential_load(struct agent *a, struct fed_error *err)
{
	struct fed_kube_request req = {.method = "GET", .timeout_ms = 10000, .max_retries = 0};
	struct load l = {0};
	struct fed_kube_call *call = NULL;
	char path[512];

	if (!a->credential_secret || a->secret_loaded)
		return 0;
	if (!a->kube)
		return fed_error_set(err, FED_EUNAVAILABLE,
		                     "--credential-secret: no member client");
	secret_path(a, path, sizeof(path), true);
	req.path = path;
	if (fed_kube_request(a->kube, &req, load_done, &l, &call, err) < 0)
		return err->code;
	/* synchronous and bounded (10 s): only while no tunnel is up */
	while (!l.done && !a->stopping)
		ev_run(a->loop, EVRUN_ONCE);
	if (!l.done) {
		fed_kube_call_cancel(call); /* l lives on this stack */
		return fed_error_set(err, FED_ECANCELED, "stopping");
	}
	if (l.code == FED_ENOTFOUND) {
		a->secret_loaded = true; /* nothing stored yet: the bootstrap token */
		return 0;
	}
	if (l.code) {
		wipe_free(l.cred);
		return fed_error_set(
		    err, l.code,
		    "reading secret %s/%s: %s (the agent needs get, create, update "
		    "and patch on it)",
		    a->secret_ns, a->credential_secret, l.msg);
	}
	a->secret_loaded = true;
	if (l.cred && *l.cred) {
		wipe_free(a->cred);
		a->cred = l.cred;
		FED_LOG_INFO(NULL, "using the cluster credential stored in secret %s/%s",
		             a->secret_ns, a->credential_secret);
	} else {
		wipe_free(l.cred);
	}
	return 0;
}

/* ---- writing ---- */

static void store_secret(struct agent *a);

static void store_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	store_secret(w->data);
}

static void store_done(struct fed_kube_response *resp, void *ud)
{
	struct agent *a = ud;
	bool created = a->store_creating;

	a->store_call = NULL;
	a->store_creating = false;
	if (resp->err.code == FED_ENOTFOUND && !created) {
		a->store_create = true; /* no Secret yet: create it */
		store_secret(a);
		return;
	}
	if (resp->err.code == FED_EEXISTS && created) {
		a->store_create = false; /* someone created it meanwhile: patch */
		store_secret(a);
		return;
	}
	if (resp->err.code) {
		FED_LOG_ERR(NULL,
		            "cannot store the cluster credential in secret %s/%s: %s "
		            "(retrying in %.0f s)",
		            a->secret_ns, a->credential_secret, resp->err.msg, STORE_RETRY);
		a->store_again = true;
		ev_timer_stop(a->loop, &a->store_retry);
		ev_timer_init(&a->store_retry, store_retry_cb, STORE_RETRY, 0.);
		a->store_retry.data = a;
		ev_timer_start(a->loop, &a->store_retry);
		return;
	}
	a->store_create = false;
	if (a->store_again) {
		store_secret(a);
		return;
	}
	FED_LOG_INFO(NULL, "cluster credential stored in secret %s/%s", a->secret_ns,
	             a->credential_secret);
}

static void store_secret(struct agent *a)
{
	struct fed_kube_request req = {.max_retries = 2, .timeout_ms = 10000};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf body =
	    FED_BUF_INIT_SENSITIVE; /* the credential, base64: wiped on grow too */
	char path[512], *v64 = NULL;

	if (a->store_call) {
		a->store_again = true; /* the newest goes out after this one */
		return;
	}
	a->store_again = false;
	if (!a->cred)
		return;
	v64 = fed_base64_encode_str(a->cred, strlen(a->cred));
	if (!v64)
		goto fail;
	if (a->store_create) {
		secret_path(a, path, sizeof(path), false);
		req.method = "POST";
		fed_buf_printf(&body,
		               "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"type\":\"Opaque\","
		               "\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"labels\":"
		               "{\"app.kubernetes.io/managed-by\":\"fed-agent\"}},"
		               "\"data\":{\"" SECRET_KEY "\":\"%s\"}}",
		               a->credential_secret, a->secret_ns, v64);
	} else {
		secret_path(a, path, sizeof(path), true);
		req.method = "PATCH";
		req.content_type = "application/merge-patch+json";
		fed_buf_printf(&body, "{\"data\":{\"" SECRET_KEY "\":\"%s\"}}", v64);
	}
	req.path = path;
	req.body = fed_buf_str(&body);
	req.body_len = body.len;
	if (fed_kube_request(a->kube, &req, store_done, a, &a->store_call, &err) < 0) {
		FED_LOG_ERR(NULL, "cannot store the cluster credential in secret %s/%s: %s",
		            a->secret_ns, a->credential_secret, err.msg);
		goto out;
	}
	a->store_creating = a->store_create;
	goto out;
fail:
	FED_LOG_ERR(NULL, "cannot store the cluster credential: out of memory");
out:
	wipe_free(v64);
	wipe_buf(&body);
}

/* Write cred to path atomically: a fresh temporary file in the same
 * directory (mkstemp: O_CREAT|O_EXCL, never follows or reuses a planted
 * file or symlink), 0600 whatever the umask, synced, then renamed over
 * path. The descriptor is closed exactly once on every path, and the
 * temporary file does not outlive a failure. */
int agent_credential_write_file(const char *path, const char *cred, struct fed_error *err)
{
	char *tmp = NULL;
	size_t n = strlen(cred), done = 0;
	int fd = -1, rc = 0;
	bool created = false;

	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		rc = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = fed_error_set(err, FED_ERR, "creating a temporary file next to %s: %s", path,
		                   strerror(errno));
		goto out;
	}
	created = true;
	if (fchmod(fd, 0600) < 0)
		goto fail;
	while (done < n) {
		ssize_t w = write(fd, cred + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		done += (size_t)w;
	}
	if (fsync(fd) < 0)
		goto fail;
	rc = close(fd);
	fd = -1;
	if (rc < 0 || rename(tmp, path) < 0)
		goto fail;
	free(tmp);
	return 0;
fail:
	rc = fed_error_set(err, FED_ERR, "writing %s: %s", path, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp); /* ours: mkstemp made it */
	free(tmp);
	return rc;
}

/* The credential from AUTH_OK, kept for the next connections. */
static void store_file(struct agent *a)
{
	struct fed_error err = FED_ERROR_INIT;

	if (agent_credential_write_file(a->credential_file, a->cred, &err) < 0) {
		FED_LOG_ERR(NULL, "cannot store the cluster credential: %s", err.msg);
		return;
	}
	FED_LOG_INFO(NULL, "cluster credential stored in %s", a->credential_file);
}

void agent_credential_save(struct agent *a, const char *cred)
{
	if (!cred || !*cred)
		return;
	wipe_free(a->cred);
	a->cred = strdup(cred);
	if (!a->cred)
		return;
	if (a->credential_file)
		store_file(a);
	if (a->credential_secret && a->kube)
		store_secret(a);
}

void agent_credential_release(struct agent *a)
{
	fed_kube_call_cancel(a->store_call);
	a->store_call = NULL;
	if (a->credential_secret)
		ev_timer_stop(a->loop, &a->store_retry);
	wipe_free(a->cred);
	a->cred = NULL;
	free(a->secret_ns);
}
