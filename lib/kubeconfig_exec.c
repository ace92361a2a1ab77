/* client-go exec credential plugins: run the command with
 * KUBERNETES_EXEC_INFO in its environment, read an ExecCredential from its
 * stdout. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "fed/base64.h"
#include "fed/buf.h"
#include "fed/kubeconfig.h"
#include "kubeconfig_internal.h"

#define EXEC_OUTPUT_MAX         (1u << 20)
#define EXEC_TIMEOUT_DEFAULT_MS 60000

extern char **environ;

struct run {
	char who[320]; /* `exec plugin "cmd" for users[x]`, for messages */
	char *path;
	char **argv;
	char **envp;
	pid_t pid;
	int out_fd;
	struct fed_buf out;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void free_strv(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* PATH lookup in the parent (execvp in the child is not async-signal-safe
 * and could not tell "not found" apart from an exit status of 127). */
static int find_command(const char *cmd, char **out)
{
	const char *path = getenv("PATH");
	struct fed_buf b = FED_BUF_INIT;
	const char *p, *end;
	struct stat st;

	*out = NULL;
	if (strchr(cmd, '/')) {
		if (access(cmd, X_OK))
			return -errno;
		return (*out = strdup(cmd)) ? 0 : -ENOMEM;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p = end + 1) {
		end = strchr(p, ':');
		if (!end)
			end = p + strlen(p);
		fed_buf_reset(&b);
		if (fed_buf_printf(&b, "%.*s%s%s", (int)(end - p), p, end > p ? "/" : "", cmd)) {
			fed_buf_release(&b);
			return -ENOMEM;
		}
		if (!stat(b.data, &st) && S_ISREG(st.st_mode) && !access(b.data, X_OK)) {
			*out = fed_buf_detach(&b);
			return *out ? 0 : -ENOMEM;
		}
		if (!*end)
			break;
	}
	fed_buf_release(&b);
	return -ENOENT;
}

static char *exec_info(const struct fed_rest_config *cfg)
{
	const struct fed_exec_config *ec = cfg->exec;
	cJSON *root = cJSON_CreateObject(), *spec, *cl;
	struct fed_buf ca = FED_BUF_INIT;
	char *s = NULL;

	if (!root || !cJSON_AddStringToObject(root, "apiVersion", ec->api_version) ||
	    !cJSON_AddStringToObject(root, "kind", "ExecCredential") ||
	    !(spec = cJSON_AddObjectToObject(root, "spec")) ||
	    !cJSON_AddBoolToObject(spec, "interactive", 0))
		goto out;
	if (ec->provide_cluster_info) {
		if (!(cl = cJSON_AddObjectToObject(spec, "cluster")) ||
		    !cJSON_AddStringToObject(cl, "server", cfg->server ? cfg->server : ""))
			goto out;
		if (cfg->tls_server_name &&
		    !cJSON_AddStringToObject(cl, "tls-server-name", cfg->tls_server_name))
			goto out;
		if (cfg->insecure_skip_tls_verify &&
		    !cJSON_AddBoolToObject(cl, "insecure-skip-tls-verify", 1))
			goto out;
		if (cfg->proxy_url && !cJSON_AddStringToObject(cl, "proxy-url", cfg->proxy_url))
			goto out;
		if (cfg->ca_pem) {
			if (fed_base64_encode(FED_BASE64_STD, &ca, cfg->ca_pem, cfg->ca_len) ||
			    !cJSON_AddStringToObject(cl, "certificate-authority-data", ca.data))
				goto out;
		}
	}
	s = cJSON_PrintUnformatted(root);
out:
	fed_buf_release(&ca);
	cJSON_Delete(root);
	return s;
}

static bool env_overridden(const char *entry, char *const *env)
{
	size_t i, n = strcspn(entry, "=");

	if (n == 20 && !strncmp(entry, "KUBERNETES_EXEC_INFO", 20))
		return true;
	for (i = 0; env && env[i]; i++)
		if (!strncmp(env[i], entry, n) && env[i][n] == '=')
			return true;
	return false;
}

/* Our environment, then the configured entries (which replace ours, as
 * the last duplicate wins in Go's os/exec), then KUBERNETES_EXEC_INFO. */
static int build_env(const struct fed_rest_config *cfg, char ***out)
{
	const struct fed_exec_config *ec = cfg->exec;
	struct fed_buf b = FED_BUF_INIT;
	size_t n = 0, i, k = 0;
	char **v = NULL, *info = NULL;
	int ret = FED_ENOMEM;

	*out = NULL;
	for (i = 0; environ && environ[i]; i++)
		n++;
	for (i = 0; ec->env && ec->env[i]; i++)
		n++;
	if (!(v = calloc(n + 2, sizeof(char *))))
		goto out;
	for (i = 0; environ && environ[i]; i++)
		if (!env_overridden(environ[i], ec->env) && !(v[k++] = strdup(environ[i])))
			goto out;
	for (i = 0; ec->env && ec->env[i]; i++)
		if (!(v[k++] = strdup(ec->env[i])))
			goto out;
	if (!(info = exec_info(cfg)) || fed_buf_printf(&b, "KUBERNETES_EXEC_INFO=%s", info) ||
	    !(v[k++] = fed_buf_detach(&b)))
		goto out;
	*out = v;
	v = NULL;
	ret = 0;
out:
	free(info);
	fed_buf_release(&b);
	free_strv(v);
	return ret;
}

static void reap(struct run *r, bool kill_it)
{
	if (r->pid <= 0)
		return;
	if (kill_it) {
		/* the whole group: a shell script's children hold the pipe too */
		kill(-r->pid, SIGKILL);
		kill(r->pid, SIGKILL);
	}
	while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
		;
	r->pid = 0;
}

static int spawn(struct run *r, struct fed_error *err)
{
	int out[2] = {-1, -1}, ep[2] = {-1, -1}, devnull = -1, child_errno = 0;
	ssize_t n;
	int ret;

	if (pipe(out) || pipe(ep)) {
		ret = fed_error_set(err, FED_ERR, "%s: pipe: %s", r->who, strerror(errno));
		goto out;
	}
	fcntl(out[0], F_SETFD, FD_CLOEXEC);
	fcntl(out[1], F_SETFD, FD_CLOEXEC);
	fcntl(ep[0], F_SETFD, FD_CLOEXEC);
	fcntl(ep[1], F_SETFD, FD_CLOEXEC);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0) {
		ret = fed_error_set(err, FED_ERR, "%s: /dev/null: %s", r->who, strerror(errno));
		goto out;
	}
	r->pid = fork();
	if (r->pid < 0) {
		r->pid = 0;
		ret = fed_error_set(err, FED_ERR, "%s: fork: %s", r->who, strerror(errno));
		goto out;
	}
	if (r->pid == 0) {
		/* child: async-signal-safe calls only */
		int e;
		setpgid(0, 0);
		if (dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0)
			goto child_fail;
		if (out[1] == 1)
			fcntl(1, F_SETFD, 0);
		execve(r->path, r->argv, r->envp);
	child_fail:
		e = errno;
		if (write(ep[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	setpgid(r->pid, r->pid); /* also here: no race with reap()'s kill(-pid) */
	close(out[1]);
	close(ep[1]);
	out[1] = ep[1] = -1;
	/* EOF (exec closed it) or the child's errno */
	while ((n = read(ep[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof(child_errno)) {
		reap(r, false);
		ret = fed_error_set(err, FED_EINVAL, "%s: cannot run \"%s\": %s", r->who, r->path,
		                    strerror(child_errno));
		goto out;
	}
	r->out_fd = out[0];
	out[0] = -1;
	ret = 0;
out:
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	if (ep[0] >= 0)
		close(ep[0]);
	if (ep[1] >= 0)
		close(ep[1]);
	if (devnull >= 0)
		close(devnull);
	return ret;
}

/* Read stdout to EOF and reap the child, all within the deadline. */
static int collect(struct run *r, long long deadline, int timeout_ms, struct fed_error *err)
{
	int status = 0, ret;
	pid_t w;

	for (;;) {
		struct pollfd pfd = {r->out_fd, POLLIN, 0};
		long long left = deadline - now_ms();
		char buf[16384];
		ssize_t n;
		int pr;

		if (left <= 0)
			goto timeout;
		pr = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			ret = fed_error_set(err, FED_ERR, "%s: poll: %s", r->who, strerror(errno));
			goto out;
		}
		if (pr == 0)
			continue;
		n = read(r->out_fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		if (r->out.len + (size_t)n > EXEC_OUTPUT_MAX) {
			ret = fed_error_set(err, FED_EINVAL, "%s: output is larger than %u bytes",
			                    r->who, EXEC_OUTPUT_MAX);
			goto out;
		}
		if (fed_buf_append(&r->out, buf, (size_t)n)) {
			ret = fed_error_set(err, FED_ENOMEM, "out of memory");
			goto out;
		}
	}
	for (;;) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		w = waitpid(r->pid, &status, WNOHANG);
		if (w == r->pid)
			break;
		if (w < 0 && errno != EINTR) {
			/* someone else reaped it (SIGCHLD ignored, a libev child
			 * watcher): trust the output */
			r->pid = 0;
			status = 0;
			break;
		}
		if (now_ms() >= deadline)
			goto timeout;
		nanosleep(&ts, NULL);
	}
	r->pid = 0;
	if (WIFSIGNALED(status)) {
		ret = fed_error_set(err, FED_EINVAL, "%s: killed by signal %d", r->who,
		                    WTERMSIG(status));
		goto out;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s: exited with status %d (its stderr above may say why)",
		                    r->who, WEXITSTATUS(status));
		goto out;
	}
	ret = 0;
	goto out;
timeout:
	ret = fed_error_set(err, FED_ETIMEOUT, "%s: no credential within %d ms; killed it", r->who,
	                    timeout_ms);
out:
	reap(r, ret != 0);
	return ret;
}

static int digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* RFC 3339 ("2006-01-02T15:04:05.999Z07:00") to a UTC time_t. */
static int parse_rfc3339(const char *s, time_t *out)
{
	struct tm tm;
	long off = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	tm.tm_year = digits(s, 4);
	tm.tm_mon = digits(s + 5, 2);
	tm.tm_mday = digits(s + 8, 2);
	tm.tm_hour = digits(s + 11, 2);
	tm.tm_min = digits(s + 14, 2);
	tm.tm_sec = digits(s + 17, 2);
	if (tm.tm_year < 0 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
	    tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	s += 19;
	if (*s == '.') {
		if (!isdigit((unsigned char)*++s))
			return -1;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if ((*s == '+' || *s == '-') && s[3] == ':') {
		int hh = digits(s + 1, 2), mm = digits(s + 4, 2);
		if (hh < 0 || hh > 23 || mm < 0 || mm > 59)
			return -1;
		off = (hh * 3600L + mm * 60L) * (*s == '-' ? -1 : 1);
		s += 6;
	} else {
		return -1;
	}
	if (*s)
		return -1;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = t - off;
	return 0;
}

static const char *json_str(const cJSON *obj, const char *key, bool *bad)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!v || cJSON_IsNull(v))
		return NULL;
	if (!cJSON_IsString(v)) {
		*bad = true;
		return NULL;
	}
	return v->valuestring && *v->valuestring ? v->valuestring : NULL;
}

/* Never quote the plugin's output: it is a credential. */
static int parse_credential(const struct run *r, const char *api_version,
                            struct fed_exec_credential *cred, struct fed_error *err)
{
	const char *av, *kind, *token, *cert, *key, *exp;
	const cJSON *status;
	cJSON *root = NULL;
	bool bad = false;
	int ret;

	root = cJSON_ParseWithLength(r->out.data ? r->out.data : "", r->out.len);
	if (!cJSON_IsObject(root)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s: output is not an ExecCredential JSON object", r->who);
		goto out;
	}
	av = json_str(root, "apiVersion", &bad);
	kind = json_str(root, "kind", &bad);
	if (bad || !av || strcmp(av, api_version)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s: returned apiVersion \"%.80s\", expected \"%s\" (the "
		                    "kubeconfig's exec.apiVersion)",
		                    r->who, av && !bad ? av : "", api_version);
		goto out;
	}
	if (kind && strcmp(kind, "ExecCredential")) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s: returned kind \"%.80s\", expected ExecCredential", r->who,
		                    kind);
		goto out;
	}
	status = cJSON_GetObjectItemCaseSensitive(root, "status");
	token = json_str(status, "token", &bad);
	cert = json_str(status, "clientCertificateData", &bad);
	key = json_str(status, "clientKeyData", &bad);
	exp = json_str(status, "expirationTimestamp", &bad);
	if (bad || (status && !cJSON_IsObject(status))) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s: ExecCredential status has a field of the "
		                    "wrong type (strings expected)",
		                    r->who);
		goto out;
	}
	if (!!cert != !!key) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s: ExecCredential status must set both clientCertificateData "
		                    "and clientKeyData, or neither",
		                    r->who);
		goto out;
	}
	if (!token && !cert) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s: ExecCredential has no credential (status.token, or "
		                    "status.clientCertificateData and clientKeyData)",
		                    r->who);
		goto out;
	}
	if (exp && parse_rfc3339(exp, &cred->expires)) {
		ret =
		    fed_error_set(err, FED_EINVAL,
		                  "%s: status.expirationTimestamp is not an RFC 3339 time", r->who);
		goto out;
	}
	if ((token && !(cred->token = strdup(token))) ||
	    (cert && !(cred->client_cert_pem = strdup(cert))) ||
	    (key && !(cred->client_key_pem = strdup(key)))) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	ret = 0;
out:
	if (root) {
		/* wipe the credential copy cJSON holds before freeing it */
		cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status"), *it;
		cJSON_ArrayForEach(it, st) {
			if (cJSON_IsString(it) && it->valuestring)
				OPENSSL_cleanse(it->valuestring, strlen(it->valuestring));
		}
	}
	cJSON_Delete(root);
	return ret;
}

/* One line from a multi-line installHint. */
static void flatten(char *dst, size_t size, const char *src)
{
	size_t n = 0;
	bool space = false;

	for (; src && *src && n + 1 < size; src++) {
		if (isspace((unsigned char)*src)) {
			space = n > 0;
			continue;
		}
		if (space && n + 2 < size)
			dst[n++] = ' ';
		space = false;
		dst[n++] = *src;
	}
	dst[n] = '\0';
}

static void run_release(struct run *r)
{
	reap(r, true);
	if (r->out_fd >= 0)
		close(r->out_fd);
	r->out_fd = -1;
	if (r->out.data)
		OPENSSL_cleanse(r->out.data, r->out.len);
	fed_buf_release(&r->out);
	free(r->path);
	free(r->argv); /* its strings belong to the exec config */
	free_strv(r->envp);
	r->path = NULL;
	r->argv = r->envp = NULL;
}

/* Everything up to a running child whose stdout is r->out_fd. */
static int run_start(const struct fed_rest_config *cfg, struct run *r, struct fed_error *err)
{
	const struct fed_exec_config *ec = cfg->exec;
	size_t nargs = 0, i;
	char hint[400];
	int ret;

	memset(r, 0, sizeof(*r));
	r->out_fd = -1;
	if (!ec || !ec->command || !ec->api_version)
		return fed_error_set(err, FED_EINVAL, "%s: no exec plugin is configured",
		                     cfg->user ? cfg->user : "exec");
	snprintf(r->who, sizeof(r->who), "exec plugin \"%.120s\" for users[%.120s]", ec->command,
	         cfg->user ? cfg->user : "");
	if (ec->interactive_mode && !strcmp(ec->interactive_mode, "Always"))
		return fed_error_set(err, FED_EINVAL,
		                     "%s: interactiveMode is Always, but fed never runs plugins "
		                     "interactively; use a non-interactive login (e.g. a service "
		                     "account) and set interactiveMode to Never or IfAvailable",
		                     r->who);
	if ((ret = find_command(ec->command, &r->path))) {
		flatten(hint, sizeof(hint), ec->install_hint);
		return fed_error_set(
		    err, ret == -ENOMEM ? FED_ENOMEM : FED_EINVAL, "%s: %s%s%s", r->who,
		    ret == -ENOENT ? (strchr(ec->command, '/') ? "command not found"
		                                               : "command not found in PATH")
		                   : strerror(-ret),
		    *hint ? "; " : "", hint);
	}
	while (ec->args && ec->args[nargs])
		nargs++;
	if (!(r->argv = calloc(nargs + 2, sizeof(char *))) || build_env(cfg, &r->envp))
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	r->argv[0] = ec->command;
	for (i = 0; i < nargs; i++)
		r->argv[i + 1] = ec->args[i];
	return spawn(r, err);
}

int fed_exec_credential_get(const struct fed_rest_config *cfg, int timeout_ms,
                            struct fed_exec_credential *out, struct fed_error *err)
{
	struct fed_exec_credential cred;
	struct run r;
	long long deadline;
	int ret;

	memset(out, 0, sizeof(*out));
	memset(&cred, 0, sizeof(cred));
	if (timeout_ms <= 0)
		timeout_ms = EXEC_TIMEOUT_DEFAULT_MS;
	deadline = now_ms() + timeout_ms;
	if ((ret = run_start(cfg, &r, err)) || (ret = collect(&r, deadline, timeout_ms, err)) ||
	    (ret = parse_credential(&r, cfg->exec->api_version, &cred, err)))
		goto out;
	*out = cred;
	memset(&cred, 0, sizeof(cred));
out:
	run_release(&r);
	fed_exec_credential_release(&cred);
	return fed_kubeconfig_oneline(err, ret);
}

/* ---- the same, step by step, for an event loop ---- */

struct fed_exec_run {
	struct run r;
	char *api_version;
	bool eof;
};

int fed_exec_run_start(const struct fed_rest_config *cfg, struct fed_exec_run **out,
                       struct fed_error *err)
{
	struct fed_exec_run *x = calloc(1, sizeof(*x));
	int ret;

	*out = NULL;
	if (!x)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	ret = run_start(cfg, &x->r, err);
	if (!ret && !(x->api_version = strdup(cfg->exec->api_version)))
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
	if (!ret && fcntl(x->r.out_fd, F_SETFL, fcntl(x->r.out_fd, F_GETFL) | O_NONBLOCK) < 0)
		ret = fed_error_set(err, FED_ERR, "%s: fcntl: %s", x->r.who, strerror(errno));
	if (ret) {
		fed_exec_run_free(x);
		return fed_kubeconfig_oneline(err, ret);
	}
	*out = x;
	return 0;
}

int fed_exec_run_fd(const struct fed_exec_run *x)
{
	return x->r.out_fd;
}

int fed_exec_run_pid(const struct fed_exec_run *x)
{
	return (int)x->r.pid;
}

int fed_exec_run_read(struct fed_exec_run *x, struct fed_error *err)
{
	struct run *r = &x->r;
	char buf[16384];
	ssize_t n;

	if (x->eof)
		return 1;
	for (;;) {
		n = read(r->out_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			x->eof = true;
			return 1;
		}
		if (r->out.len + (size_t)n > EXEC_OUTPUT_MAX)
			return fed_error_set(err, FED_EINVAL, "%s: output is larger than %u bytes",
			                     r->who, EXEC_OUTPUT_MAX);
		if (fed_buf_append(&r->out, buf, (size_t)n))
			return fed_error_set(err, FED_ENOMEM, "out of memory");
	}
}

int fed_exec_run_finish(struct fed_exec_run *x, int status, bool status_known,
                        struct fed_exec_credential *out, struct fed_error *err)
{
	struct run *r = &x->r;
	int ret;

	memset(out, 0, sizeof(*out));
	r->pid = 0; /* reaped by the caller */
	if (status_known && WIFSIGNALED(status))
		ret = fed_error_set(err, FED_EINVAL, "%s: killed by signal %d", r->who,
		                    WTERMSIG(status));
	else if (status_known && WIFEXITED(status) && WEXITSTATUS(status))
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s: exited with status %d (its stderr above may say why)",
		                    r->who, WEXITSTATUS(status));
	else
		ret = parse_credential(r, x->api_version, out, err);
	return fed_kubeconfig_oneline(err, ret);
}

int fed_exec_run_timeout(struct fed_exec_run *x, double timeout_s, struct fed_error *err)
{
	reap(&x->r, true);
	return fed_error_set(err, FED_ETIMEOUT, "%s: no credential within %.0f s; killed it",
	                     x->r.who, timeout_s);
}

void fed_exec_run_free(struct fed_exec_run *x)
{
	if (!x)
		return;
	run_release(&x->r);
	free(x->api_version);
	free(x);
}

void fed_exec_credential_release(struct fed_exec_credential *cred)
{
	if (!cred)
		return;
	if (cred->token)
		OPENSSL_cleanse(cred->token, strlen(cred->token));
	if (cred->client_key_pem)
		OPENSSL_cleanse(cred->client_key_pem, strlen(cred->client_key_pem));
	free(cred->token);
	free(cred->client_cert_pem);
	free(cred->client_key_pem);
	memset(cred, 0, sizeof(*cred));
}
