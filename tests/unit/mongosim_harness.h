/*
 * A mongosim subprocess per Check test case, for the suites that drive it with the real
 * mongo-c-driver (mongosim_driver.c, mongosim_crud.c, mongosim_relay.c). Ports are derived
 * from the pid, with retries when a base is taken. Header-only: each suite is its own
 * program.
 */
#ifndef MONGOSIM_HARNESS_H
#define MONGOSIM_HARNESS_H

#include <check.h>
#include <dirent.h>
#include <mongoc/mongoc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "sim.h"

/* --- a mongosim subprocess per test case ------------------------------------------- */

struct sim {
    pid_t pid;
    int port, members;
};

/* Short-lived BSON from JSON; the last few stay reachable, so nothing leaks per call site.
 * One thread at a time: the ring is shared. */
static inline bson_t *tmp_bson(const char *json)
{
    static bson_t *ring[32];
    static int next;
    bson_error_t err;
    bson_t *b = bson_new_from_json((const uint8_t *)json, -1, &err);
    ck_assert_msg(b != NULL, "bad test JSON %s: %s", json, err.message);
    if (ring[next])
        bson_destroy(ring[next]);
    ring[next] = b;
    next = (next + 1) % 32;
    return b;
}

static inline int sim_hello(const struct sim *s, int member, bson_t *reply)
{
    int fd = client_connect("127.0.0.1", s->port + member, 200);
    if (fd < 0)
        return -1;
    int rc = client_command(fd, "admin", tmp_bson("{\"hello\": 1}"), reply, 2000);
    close(fd);
    return rc;
}

/*
 * Does process pid itself listen on port? (Other engineers' mongosims may hold ports of a
 * base we also tried: a hello alone could be answered by one of them while ours failed.)
 * Reads the listening sockets of /proc/net/tcp and the socket inodes of /proc/PID/fd.
 */
static inline int sim_owns_port(pid_t pid, int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    unsigned long inode = 0;
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f)) {
        unsigned lport, st;
        unsigned long ino;
        if (sscanf(line, " %*d: %*x:%x %*x:%*x %x %*s %*s %*s %*d %*d %lu", &lport, &st, &ino) ==
                3 &&
            (int)lport == port && st == 0x0A) {
            inode = ino;
            break;
        }
    }
    fclose(f);
    if (inode == 0)
        return 0;
    char dir[64], want[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    snprintf(want, sizeof want, "socket:[%lu]", inode);
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    while (d && !found && (e = readdir(d)) != NULL) {
        char path[320], target[128];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n > 0) {
            target[n] = '\0';
            found = strcmp(target, want) == 0;
        }
    }
    if (d)
        closedir(d);
    return found;
}

static inline void sim_start(struct sim *s, int members, const char *election)
{
    const char *dir = getenv("RELAYLAB_BIN") ? getenv("RELAYLAB_BIN") : "bin";
    char exe[512], port[16], nm[16];
    snprintf(exe, sizeof exe, "%s/mongosim", dir);
    for (int attempt = 0; attempt < 5; attempt++) {
        s->members = members;
        s->port = 12000 + (int)((getpid() * 7 + attempt * 131) % 2300) * 8;
        snprintf(port, sizeof port, "%d", s->port);
        snprintf(nm, sizeof nm, "%d", members);
        s->pid = fork();
        ck_assert_int_ge(s->pid, 0);
        if (s->pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            execl(exe, exe, "--port", port, "--members", nm, "--election-timeout", election,
                  "--log-level", getenv("MSIM_TEST_LOG") ? getenv("MSIM_TEST_LOG") : "warn",
                  (char *)NULL);
            _exit(127);
        }
        int ready = 0;
        for (int t = 0; t < 250 && !ready; t++) {
            int st;
            if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
                s->pid = -1;
                break; /* exited: port in use, try another base */
            }
            bson_t reply;
            int ours = 1;
            for (int m = 0; m < members && ours; m++)
                ours = sim_owns_port(s->pid, s->port + m);
            if (ours && sim_hello(s, members - 1, &reply) == 0) {
                bson_iter_t it;
                ready = bson_iter_init_find(&it, &reply, "setName") &&
                        strcmp(bson_iter_utf8(&it, NULL), "rs0") == 0;
                bson_destroy(&reply);
            } else {
                usleep(20000);
            }
        }
        if (ready)
            return;
        if (s->pid > 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
        }
    }
    ck_abort_msg("mongosim did not start (%s)", exe);
}

static inline void sim_stop(struct sim *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    int st = 0;
    pid_t r = 0;
    for (int t = 0; t < 1000 && r == 0; t++) {
        r = waitpid(s->pid, &st, WNOHANG);
        if (r == 0)
            usleep(10000);
    }
    if (r == 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &st, 0);
    }
    s->pid = -1;
    ck_assert_msg(r > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "mongosim did not exit 0 on SIGTERM (status %d)", st);
}

static inline void sim_uri(const struct sim *s, char *buf, size_t n, const char *extra)
{
    snprintf(buf, n,
             "mongodb://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/"
             "?replicaSet=rs0&serverSelectionTimeoutMS=15000%s",
             s->port, s->port + 1, s->port + 2, extra ? extra : "");
}

/* Returns the member index hello names as primary (waiting up to 10 s for one). */
static inline int sim_primary(const struct sim *s)
{
    for (int t = 0; t < 200; t++) {
        for (int m = 0; m < s->members; m++) {
            bson_t reply;
            if (sim_hello(s, m, &reply) != 0)
                continue;
            bson_iter_t it;
            int p = bson_iter_init_find(&it, &reply, "isWritablePrimary") && bson_iter_as_bool(&it);
            bson_destroy(&reply);
            if (p)
                return m;
        }
        usleep(50000);
    }
    ck_abort_msg("no primary within 10 s");
    return -1;
}

static inline int sim_primary_port(const struct sim *s)
{
    return s->port + sim_primary(s);
}

/* Runs a command on the admin database of member (-1: the primary); asserts ok:1. */
static inline void sim_admin(const struct sim *s, int member, const char *json, bson_t *out)
{
    if (member < 0)
        member = sim_primary(s);
    int fd = client_connect("127.0.0.1", s->port + member, 2000);
    ck_assert_int_ge(fd, 0);
    bson_t reply;
    ck_assert_int_eq(client_command(fd, "admin", tmp_bson(json), &reply, 5000), 0);
    close(fd);
    bson_iter_t it;
    char *txt = bson_as_relaxed_extended_json(&reply, NULL);
    int ok = bson_iter_init_find(&it, &reply, "ok") && bson_iter_as_bool(&it);
    ck_assert_msg(ok, "%s failed: %s", json, txt);
    bson_free(txt);
    if (out)
        bson_steal(out, bson_copy(&reply));
    bson_destroy(&reply);
}

static struct sim sim;

static inline void setup(void)
{
    sim_start(&sim, 3, "300ms");
}

static inline void teardown(void)
{
    sim_stop(&sim);
}

static inline mongoc_client_t *client_for(const char *extra)
{
    char uri[512];
    sim_uri(&sim, uri, sizeof uri, extra);
    mongoc_client_t *c = mongoc_client_new(uri);
    ck_assert_ptr_nonnull(c);
    mongoc_client_set_error_api(c, MONGOC_ERROR_API_VERSION_2);
    return c;
}

static inline void insert_i(mongoc_collection_t *coll, int i, int g)
{
    bson_error_t err;
    bson_t *doc = BCON_NEW("i", BCON_INT32(i), "g", BCON_INT32(g));
    ck_assert_msg(mongoc_collection_insert_one(coll, doc, NULL, NULL, &err), "insert %d: %s", i,
                  err.message);
    bson_destroy(doc);
}

#endif
