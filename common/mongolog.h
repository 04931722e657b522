/*
 * mongolog — the MongoDB C driver's log through ours: one key=value line on stderr per
 * driver message, at our level for the driver's (error/critical -> error, warning -> warn,
 * message/info -> info, debug/trace -> debug) and filtered by the program's --log-level.
 * Without it the driver prints its own lines, DEBUG ones included, on stdout.
 *
 *   log_init("relay", level);
 *   mongolog_install();
 *
 * Call it after log_init (the threshold is read on every message, so a later change of
 * log_threshold applies too), before the first client is created. Links libmongoc.
 */
#ifndef RELAYLAB_MONGOLOG_H
#define RELAYLAB_MONGOLOG_H

/* Installs the handler (mongoc_log_set_handler), turns the driver's trace logging off and
 * unlinks the driver's /dev/shm counters file at once, so no exit path can leave it. */
void mongolog_install(void);

#endif
