/* The agent's METADATA object as the host parses it: arbitrary bytes from
 * the member side. A parsed result must hold only what the checks allow. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fed/tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_agent_metadata m;

	if (fed_agent_metadata_parse((const char *)data, size, &m, &err) == 0) {
		if (strlen(m.agent_version) >= sizeof(m.agent_version) || m.nodes < -1 ||
		    m.cores < -1 || m.memory_bytes < -1)
			abort();
		for (const char *p = m.kubernetes_version; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				abort();
		(void)fed_agent_metadata_changed(&m, &m);
	} else if (!err.msg[0]) {
		abort();
	}
	return 0;
}
