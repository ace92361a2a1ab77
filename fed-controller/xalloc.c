/* The programs' out-of-memory policy, as crun's xmalloc: log and abort.
 * The controller is level-triggered and restarts cleanly from what the
 * apiservers hold, so dying is safer than a write silently dropped. */
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "fed/log.h"

void xoom(void)
{
	FED_LOG_ERR(NULL, "out of memory: aborting (a restart converges again)");
	abort();
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		xoom();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		xoom();
	return p;
}
