/* Process hardening for fed's binaries (fed-controller, fed-agent, fedctl),
 * called first thing in main(). */
#ifndef FED_HARDEN_H
#define FED_HARDEN_H

/* No core dumps, and no ptrace or /proc/PID/mem reads by other processes
 * of the same user: 0, or the first failure's negative fed_err code (the
 * caller carries on: a missing hardening is no reason not to run). */
int fed_process_harden(void);

#endif
