/* clientcmd's loading rules: which files, in which order, and the
 * in-cluster fallback. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fed/buf.h"
#include "fed/kubeconfig.h"
#include "kubeconfig_internal.h"

static int oom(struct fed_error *err)
{
	return fed_error_set(err, FED_ENOMEM, "out of memory");
}

int fed_kubeconfig_oneline(struct fed_error *err, int ret)
{
	char *p;

	if (ret && err)
		for (p = err->msg; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	return ret;
}

void fed_kubeconfig_describe(const struct fed_kubeconfig *kc, char *buf, size_t size)
{
	size_t i, off;

	off = (size_t)snprintf(buf, size, "kubeconfig ");
	for (i = 0; kc && i < kc->nsources && off < size; i++)
		off +=
		    (size_t)snprintf(buf + off, size - off, "%s%s", i ? ":" : "", kc->sources[i]);
}

int fed_kubeconfig_read_file(const char *path, size_t max, char **data, size_t *len)
{
	struct fed_buf b = FED_BUF_INIT;
	FILE *f;
	int ret = 0;

	*data = NULL;
	*len = 0;
	f = fopen(path, "rb");
	if (!f)
		return -errno;
	for (;;) {
		size_t n;
		if (fed_buf_grow(&b, 65536)) {
			ret = -ENOMEM;
			break;
		}
		n = fread(b.data + b.len, 1, b.cap - b.len - 1, f);
		b.len += n;
		b.data[b.len] = '\0';
		if (b.len > max) {
			ret = -EFBIG;
			break;
		}
		if (n == 0) {
			if (ferror(f))
				ret = errno ? -errno : -EIO;
			break;
		}
	}
	fclose(f);
	if (ret) {
		fed_buf_release(&b);
		return ret;
	}
	*len = b.len;
	*data = fed_buf_detach(&b);
	return *data ? 0 : -ENOMEM;
}

int fed_kubeconfig_load_file(struct fed_kubeconfig **out, const char *path, struct fed_error *err)
{
	char *data = NULL;
	size_t len;
	int ret;

	*out = NULL;
	ret = fed_kubeconfig_read_file(path, FED_KC_FILE_MAX, &data, &len);
	if (ret)
		return fed_kubeconfig_oneline(
		    err, fed_error_set(err, ret == -ENOMEM ? FED_ENOMEM : FED_EINVAL,
		                       "kubeconfig %s: cannot read: %s", path, strerror(-ret)));
	ret = fed_kubeconfig_parse(out, data, len, path, err);
	free(data);
	return ret;
}

/* clientcmd's loading rules. *found tells whether any file existed (the
 * caller may fall back to in-cluster); `tried` lists what was looked at. */
static int load_rules(struct fed_kubeconfig **out, const char *explicit_path, bool *found,
                      struct fed_buf *tried, struct fed_error *err)
{
	struct fed_kubeconfig *kc = NULL, *one = NULL;
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
	char *list = NULL, *path, *save = NULL;
	int ret = 0;

	*out = NULL;
	*found = false;
	if (explicit_path && *explicit_path) {
		/* --kubeconfig: only that file, and it must exist */
		ret = fed_kubeconfig_load_file(out, explicit_path, err);
		*found = ret == 0;
		return ret;
	}
	if (env && *env) {
		if (!(list = strdup(env))) {
			ret = oom(err);
			goto out;
		}
		fed_buf_printf(tried, "$KUBECONFIG=%s", env);
		for (path = strtok_r(list, ":", &save); path; path = strtok_r(NULL, ":", &save)) {
			bool dup = false;
			size_t i;
			if (access(path, F_OK) && errno == ENOENT)
				continue;
			for (i = 0; kc && i < kc->nsources; i++)
				dup = dup || !strcmp(kc->sources[i], path);
			if (dup)
				continue;
			if ((ret = fed_kubeconfig_load_file(&one, path, err)))
				goto out;
			if (!kc) {
				kc = one;
			} else if ((ret = fed_kubeconfig_merge(kc, one))) {
				one = NULL;
				ret = oom(err);
				goto out;
			}
			one = NULL;
		}
	} else if (home && *home) {
		struct fed_buf p = FED_BUF_INIT;
		if (fed_buf_printf(&p, "%s/.kube/config", home)) {
			ret = oom(err);
			goto out;
		}
		fed_buf_puts(tried, p.data);
		if (!(access(p.data, F_OK) && errno == ENOENT))
			ret = fed_kubeconfig_load_file(&kc, p.data, err);
		fed_buf_release(&p);
		if (ret)
			goto out;
	} else {
		fed_buf_puts(tried, "~/.kube/config ($HOME is not set)");
	}
	*found = kc != NULL;
	*out = kc;
	kc = NULL;
out:
	free(list);
	fed_kubeconfig_free(one);
	fed_kubeconfig_free(kc);
	return ret;
}

int fed_kubeconfig_load_default(struct fed_kubeconfig **out, const char *explicit_path,
                                struct fed_error *err)
{
	struct fed_buf tried = FED_BUF_INIT;
	bool found;
	int ret;

	ret = load_rules(out, explicit_path, &found, &tried, err);
	if (!ret && !found)
		ret = fed_error_set(err, FED_EINVAL,
		                    "no kubeconfig found (tried %s); pass --kubeconfig or set "
		                    "KUBECONFIG",
		                    fed_buf_str(&tried));
	fed_buf_release(&tried);
	return fed_kubeconfig_oneline(err, ret);
}

int fed_rest_config_load(struct fed_rest_config *out, const char *kubeconfig_path,
                         const char *context, struct fed_error *err)
{
	struct fed_kubeconfig *kc = NULL;
	struct fed_buf tried = FED_BUF_INIT;
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	bool found;
	int ret;

	fed_rest_config_init(out);
	if ((ret = load_rules(&kc, kubeconfig_path, &found, &tried, err)))
		goto out;
	if (found) {
		ret = fed_kubeconfig_rest_config(kc, context, out, err);
	} else if (host && *host) {
		ret = fed_rest_config_in_cluster(out, err);
	} else {
		ret = fed_error_set(err, FED_EINVAL,
		                    "no configuration found: tried %s, and in-cluster config "
		                    "(KUBERNETES_SERVICE_HOST is not set); pass --kubeconfig, set "
		                    "KUBECONFIG or create ~/.kube/config",
		                    fed_buf_str(&tried));
	}
out:
	fed_buf_release(&tried);
	fed_kubeconfig_free(kc);
	return fed_kubeconfig_oneline(err, ret);
}
