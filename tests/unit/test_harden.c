/* fed_process_harden (finding 21 of the security audit): after it, the
 * process cannot dump core and is not dumpable (no ptrace or
 * /proc/PID/mem by same-uid processes), starting from the opposite. */
#include <sys/prctl.h>
#include <sys/resource.h>

#include "check.h"
#include "fed/harden.h"

static void test_harden(void)
{
	struct rlimit rl;

	/* start dumpable, with core dumps allowed up to the hard limit */
	CHECK_INT(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), 0);
	CHECK_INT(getrlimit(RLIMIT_CORE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	CHECK_INT(setrlimit(RLIMIT_CORE, &rl), 0);
	CHECK_INT(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);

	CHECK_INT(fed_process_harden(), 0);
	CHECK_INT(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	CHECK_INT(getrlimit(RLIMIT_CORE, &rl), 0);
	CHECK_INT(rl.rlim_cur, 0);
	/* and the hard limit too, so nothing later raises it back */
	CHECK_INT(rl.rlim_max, 0);
}

int main(void)
{
	RUN(test_harden);
	return CHECK_EXIT();
}
