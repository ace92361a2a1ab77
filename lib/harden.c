/* fed's processes hold the credential key of the tunnel, member tokens
 * and whole kubeconfigs in memory. A core dump would write them to disk
 * (where a crash collector may ship them anywhere), and any process of
 * the same uid could read them with ptrace or /proc/PID/mem. Both are
 * closed here. PR_SET_DUMPABLE is reset by execve, so children (exec
 * credential plugins) are not affected; RLIMIT_CORE is inherited, which is
 * what we want for them too. */
#include <sys/prctl.h>
#include <sys/resource.h>

#include "fed/error.h"
#include "fed/harden.h"

int fed_process_harden(void)
{
	const struct rlimit none = {0, 0};
	int rc = 0;

	if (setrlimit(RLIMIT_CORE, &none) < 0)
		rc = FED_EINVAL;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		rc = FED_EINVAL;
	return rc;
}
