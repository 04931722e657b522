/*
 * fdlimit — fitting the process's descriptor limit (RLIMIT_NOFILE) to what it will use.
 *
 * libwebsockets sizes its fd-to-connection table by the soft limit, and the build Debian
 * ships walks that whole table on every closed connection (a debug check, 1 ns an entry
 * here): with the 2^20 soft limit common in containers, each close costs about 1 ms, and
 * 10,000 clients leaving at once stall the event loop for seconds. Programs built on lws
 * therefore set the soft limit to their need, raising it or lowering it.
 */
#ifndef RELAYLAB_FDLIMIT_H
#define RELAYLAB_FDLIMIT_H

/* Sets the soft RLIMIT_NOFILE to need, at most the hard limit. Returns the soft limit in
 * force afterwards (need, the hard limit, or the old one when setrlimit failed), or -1
 * when it cannot be read. */
long fdlimit_fit(long need);

#endif
