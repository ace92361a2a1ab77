/* fedctl kubeconfig, the files: which kubeconfig kubectl reads and
 * fedctl writes, and writing it as kubectl does (the FILE.lock of
 * client-go, so neither loses the other's change), atomically (a temp
 * file renamed over it) and private (0600). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster_connect.h"
#include "fedctl.h"
#include "fed/buf.h"

#define MAX_FILE (16 << 20) /* a kubeconfig larger than this is no kubeconfig */

static int add(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -1;
	*v = nv;
	if (!(nv[*n] = strdup(s)))
		return -1;
	(*n)++;
	return 0;
}

void fedctl_files_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

int fedctl_kubeconfig_files(const char *explicit_path, char ***out, size_t *n,
                            struct fed_error *err)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
	char *list = NULL, *p, *save = NULL;
	struct fed_buf b = FED_BUF_INIT;
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (explicit_path && *explicit_path) {
		ret = add(out, n, explicit_path);
	} else if (env && *env) {
		if (!(list = strdup(env)))
			ret = -1;
		for (p = list ? strtok_r(list, ":", &save) : NULL; p && !ret;
		     p = strtok_r(NULL, ":", &save))
			ret = add(out, n, p);
	} else if (home && *home) {
		ret = fed_buf_printf(&b, "%s/.kube/config", home) < 0 ? -1 : add(out, n, b.data);
	} else {
		return fed_error_set(err, FED_EINVAL,
		                     "no kubeconfig to write: $HOME and $KUBECONFIG are not set; "
		                     "pass --kubeconfig FILE");
	}
	free(list);
	fed_buf_release(&b);
	if (!ret && *n)
		return 0;
	fedctl_files_free(*out, *n);
	*out = NULL;
	*n = 0;
	return ret ? fed_error_set(err, FED_ENOMEM, "out of memory")
	           : fed_error_set(err, FED_EINVAL, "$KUBECONFIG names no file; pass --kubeconfig");
}

int fedctl_file_read(const char *path, char **text, size_t *len, struct fed_error *err)
{
	struct fed_buf b = FED_BUF_INIT;
	char chunk[8192];
	size_t got;
	FILE *f;
	int ret = 0;

	*text = NULL;
	*len = 0;
	if (!(f = fopen(path, "rb")))
		return errno == ENOENT ? 0
		                       : fed_error_set(err, FED_ERR, "read kubeconfig %s: %s", path,
		                                       strerror(errno));
	while (!ret && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (fed_buf_append(&b, chunk, got) || b.len > MAX_FILE)
			ret = fed_error_set(err, FED_EINVAL, "kubeconfig %s: larger than %d MiB",
			                    path, MAX_FILE >> 20);
	if (!ret && ferror(f))
		ret = fed_error_set(err, FED_ERR, "read kubeconfig %s: %s", path, strerror(errno));
	fclose(f);
	if (!ret && !(*text = b.len ? fed_buf_detach(&b) : strdup("")))
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
	if (!ret)
		*len = strlen(*text);
	fed_buf_release(&b);
	return ret;
}

/* The file a write goes to: a symlink's target (kubectl writes through
 * it), the path itself when it does not exist yet. *out malloc'd. */
static int target_of(const char *path, char **out, struct fed_error *err)
{
	char buf[PATH_MAX];

	*out = strdup(realpath(path, buf) ? buf : path);
	return *out ? 0 : fed_error_set(err, FED_ENOMEM, "out of memory");
}

int fedctl_kubeconfig_lock(const char *path, char **target, char **lock, struct fed_error *err)
{
	struct fed_buf b = FED_BUF_INIT;
	char *dir = NULL;
	int fd, ret;

	*lock = NULL;
	if ((ret = target_of(path, target, err)))
		return ret;
	/* ~/.kube may not exist yet: kubectl makes it too */
	if (!(dir = strdup(*target)) || (mkdir(dirname(dir), 0700) && errno != EEXIST)) {
		ret = fed_error_set(err, FED_ERR, "kubeconfig %s: cannot make its directory: %s",
		                    path, dir ? strerror(errno) : "out of memory");
		goto out;
	}
	if (fed_buf_printf(&b, "%s.lock", *target) < 0) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	fd = open(b.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = fed_error_set(
		    err, FED_ERR,
		    errno == EEXIST ? "kubeconfig %s is locked (%s exists: kubectl or fedctl is "
		                      "writing it); run again, or remove %s if nothing is"
		                    : "kubeconfig %s: cannot lock it (%s): %s",
		    path, b.data, errno == EEXIST ? b.data : strerror(errno));
		goto out;
	}
	close(fd);
	*lock = fed_buf_detach(&b);
out:
	free(dir);
	fed_buf_release(&b);
	return ret;
}

void fedctl_kubeconfig_unlock(char *lock)
{
	if (lock)
		unlink(lock);
	free(lock);
}

int fedctl_file_replace(const char *target, const char *data, size_t len, struct fed_error *err)
{
	struct fed_buf tmp = FED_BUF_INIT;
	int fd, ret = 0;

	if (fed_buf_printf(&tmp, "%s.fedctl-XXXXXX", target) < 0)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	/* mkstemp: 0600 from the start; it holds names of credentials */
	if ((fd = mkstemp(tmp.data)) < 0) {
		ret =
		    fed_error_set(err, FED_ERR, "write kubeconfig %s: %s", target, strerror(errno));
		goto out;
	}
	if (fedctl_write_all(fd, data, len) || fsync(fd))
		ret =
		    fed_error_set(err, FED_ERR, "write kubeconfig %s: %s", target, strerror(errno));
	if (close(fd) && !ret)
		ret =
		    fed_error_set(err, FED_ERR, "write kubeconfig %s: %s", target, strerror(errno));
	if (!ret && rename(tmp.data, target))
		ret =
		    fed_error_set(err, FED_ERR, "write kubeconfig %s: %s", target, strerror(errno));
	if (ret)
		unlink(tmp.data);
out:
	fed_buf_release(&tmp);
	return ret;
}
