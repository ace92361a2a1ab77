/* The agent's credential file (fed-agent/credential.c, finding 16): a
 * planted <file>.tmp symlink or a wide-mode temporary file must neither
 * redirect nor widen the write, whatever the umask; the buffer flag that
 * wipes secrets on grow and release (lib/buf.c, finding 21). */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "check.h"
#include "fed/buf.h"
/* the file is not in the library: compile it in */
#include "../../fed-agent/credential.c"

static char dir[64];

static char *slurp(const char *path)
{
	static char buf[256];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void test_symlink_not_followed(void)
{
	struct fed_error err = FED_ERROR_INIT;
	char path[128], tmp[140], victim[128];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/cred", dir);
	snprintf(tmp, sizeof(tmp), "%s/cred.tmp", dir);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK_INT(write(fd, "victim", 6), 6);
	close(fd);
	CHECK_INT(symlink(victim, tmp), 0);
	CHECK_INT(agent_credential_write_file(path, "fedc2.secret-value", &err), 0);
	CHECK_STR(slurp(victim), "victim");
	CHECK_STR(slurp(path), "fedc2.secret-value");
	CHECK_INT(lstat(path, &st), 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_INT(st.st_mode & 0777, 0600);
	/* only the planted link, the victim and the file: no temporary left */
	CHECK_INT(entries(), 3);
	unlink(tmp);
	unlink(victim);
	unlink(path);
}

static void test_wide_mode_not_kept(void)
{
	struct fed_error err = FED_ERROR_INIT;
	char path[128], tmp[140];
	struct stat st;
	mode_t old = umask(0);
	int fd;

	snprintf(path, sizeof(path), "%s/cred", dir);
	snprintf(tmp, sizeof(tmp), "%s/cred.tmp", dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	umask(old);
	CHECK(fd >= 0);
	close(fd);
	CHECK_INT(chmod(tmp, 0666), 0);
	CHECK_INT(agent_credential_write_file(path, "fedc2.other", &err), 0);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	CHECK_STR(slurp(path), "fedc2.other");
	/* rewritten: replaced, still 0600 */
	CHECK_INT(agent_credential_write_file(path, "fedc2.third", &err), 0);
	CHECK_STR(slurp(path), "fedc2.third");
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	unlink(tmp);
	unlink(path);
}

static void test_missing_dir_fails_cleanly(void)
{
	struct fed_error err = FED_ERROR_INIT;
	char path[128];

	snprintf(path, sizeof(path), "%s/no-such-dir/cred", dir);
	CHECK(agent_credential_write_file(path, "fedc2.x", &err) < 0);
	CHECK_HAS(err.msg, "no-such-dir");
	CHECK(!strstr(err.msg, "fedc2.x"));
}

static void test_sensitive_buf(void)
{
	struct fed_buf b = FED_BUF_INIT_SENSITIVE;

	for (int i = 0; i < 100; i++)
		CHECK_INT(fed_buf_puts(&b, "secret-bytes-"), 0);
	CHECK_INT(b.len, 1300);
	CHECK(!strncmp(b.data, "secret-bytes-secret", 19));
	fed_buf_release(&b);
	CHECK(b.data == NULL);
	CHECK(b.sensitive); /* stays marked for reuse */
	CHECK_INT(fed_buf_puts(&b, "again"), 0);
	CHECK_STR(fed_buf_str(&b), "again");
	fed_buf_release(&b);
}

/* The Secret's value as the load callback decodes it: padded base64 as
 * the API server returns it; a trailing newline in the stored value is
 * dropped; anything not base64 is refused naming the key. */
static void load_value(const char *v64, struct load *l)
{
	struct fed_kube_response resp = {.status = 200};
	cJSON *data;

	memset(l, 0, sizeof(*l));
	resp.json = cJSON_CreateObject();
	data = cJSON_AddObjectToObject(resp.json, "data");
	cJSON_AddStringToObject(data, SECRET_KEY, v64);
	load_done(&resp, l);
	cJSON_Delete(resp.json);
}

static void test_load_decodes(void)
{
	struct load l;

	load_value("ZmVkYzEuYWJj", &l); /* "fedc1.abc": no padding needed */
	CHECK_INT(l.code, 0);
	CHECK_STR(l.cred, "fedc1.abc");
	wipe_free(l.cred);
	load_value("ZmVkYzEuYQ==", &l); /* "fedc1.a" */
	CHECK_INT(l.code, 0);
	CHECK_STR(l.cred, "fedc1.a");
	wipe_free(l.cred);
	load_value("ZmVkYzEuYWIK", &l); /* "fedc1.ab\n" */
	CHECK_INT(l.code, 0);
	CHECK_STR(l.cred, "fedc1.ab");
	wipe_free(l.cred);
	load_value("ZmVk*zEu", &l);
	CHECK_INT(l.code, FED_EINVAL);
	CHECK(l.cred == NULL);
	CHECK_HAS(l.msg, "credential");
	load_value("ZmVkYzEuYQ=", &l); /* padding cut short */
	CHECK_INT(l.code, FED_EINVAL);
	CHECK(l.cred == NULL);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/fed-cred-test-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	RUN(test_symlink_not_followed);
	RUN(test_wide_mode_not_kept);
	RUN(test_missing_dir_fails_cleanly);
	RUN(test_sensitive_buf);
	RUN(test_load_decodes);
	rmdir(dir);
	return CHECK_EXIT();
}
