/*
 * signals — how every relaylab program stops: SIGTERM and SIGINT only set a flag that the
 * program's loop checks (no work in the handler), and SIGPIPE is ignored so a peer that
 * vanishes mid-write is an error value, not a dead process.
 */
#ifndef RELAYLAB_SIGNALS_H
#define RELAYLAB_SIGNALS_H

#include <signal.h>

/* Installs the handlers; *flag becomes 1 on SIGTERM or SIGINT. flag must outlive the program. */
void signals_on_stop(volatile sig_atomic_t *flag);

#endif
