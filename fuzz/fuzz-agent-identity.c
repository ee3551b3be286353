/* fuzz-agent-identity.c: the guest agent's reader of the host's "identity"
 * (bl_proto.h) on arbitrary JSON: names, numbers, the entropy's hex. Built
 * as a libFuzzer target with -Dfuzzing=true (clang); otherwise a driver
 * checks a valid message and a table of wrong ones, then replays mutations
 * of the valid one. Whatever is accepted must hold what the agent relies
 * on: a name of RFC 1123 characters that fits, 32 to 64 bytes of entropy,
 * a process cap of at least one. */
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* agent_identity.c logs and ends the machine through these; parsing does
 * neither. */
void
agent_log (const char *fmt, ...)
{
    (void) fmt;
}

void
agent_fatal (const char *fmt, ...)
{
    (void) fmt;
    abort ();
}

static void
check_accepted (const struct agent_identity *id)
{
    size_t len = strlen (id->hostname);

    g_assert_cmpuint (len, >=, 1);
    g_assert_cmpuint (len, <, AGENT_HOSTNAME_MAX);
    for (size_t i = 0; i < len; i++)
        g_assert_true (g_ascii_isalnum (id->hostname[i]) || id->hostname[i] == '-' ||
                       id->hostname[i] == '.');
    g_assert_true (id->hostname[0] != '-' && id->hostname[0] != '.');
    g_assert_cmpuint (strlen (id->box_id), >=, 1);
    g_assert_cmpuint (strlen (id->box_id), <, sizeof id->box_id);
    g_assert_cmpuint (id->entropy_len, >=, AGENT_ENTROPY_MIN);
    g_assert_cmpuint (id->entropy_len, <=, sizeof id->entropy);
    g_assert_cmpuint (id->pids_max, >=, 1);
    g_assert_cmpint (id->time_ns, >=, 0);
}

/* Parses @text as the arguments of "identity"; returns whether accepted. */
static gboolean
parse (const char *text, size_t len)
{
    struct agent_json *args = agent_json_parse (text, len);
    struct agent_identity id;
    char err[160];

    if (!args)
        return FALSE;
    int rc = agent_identity_parse (args, &id, err, sizeof err);
    agent_json_free (args);
    if (rc == 0)
        check_accepted (&id);
    else
        g_assert_cmpuint (strlen (err), >, 0);
    return rc == 0;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
    parse ((const char *) data, size);
    return 0;
}

#ifndef BOXLITE_LIBFUZZER
#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define VALID                                                                                      \
    "{\"hostname\":\"box-1.a\",\"box_id\":\"abc\",\"time_ns\":1700000000000000000,"                \
    "\"entropy\":\"" HEX64 HEX64 "\",\"network\":true,\"pids_max\":64,\"disk_bytes\":4096}"

static const char *const refused[] = {
    "{}",
    "{\"hostname\":\"a b\",\"box_id\":\"x\",\"time_ns\":1,\"entropy\":\"" HEX64 "\"}",
    "{\"hostname\":\"-a\",\"box_id\":\"x\",\"time_ns\":1,\"entropy\":\"" HEX64 "\"}",
    "{\"hostname\":\"a\",\"box_id\":\"\",\"time_ns\":1,\"entropy\":\"" HEX64 "\"}",
    "{\"hostname\":\"a\",\"box_id\":\"x\",\"entropy\":\"" HEX64 "\"}",
    "{\"hostname\":\"a\",\"box_id\":\"x\",\"time_ns\":-1,\"entropy\":\"" HEX64 "\"}",
    "{\"hostname\":\"a\",\"box_id\":\"x\",\"time_ns\":1,\"entropy\":\"0011\"}",
    "{\"hostname\":\"a\",\"box_id\":\"x\",\"time_ns\":1,\"entropy\":\"" HEX64 HEX64 "00\"}",
    "{\"hostname\":\"a\",\"box_id\":\"x\",\"time_ns\":1,\"entropy\":\"" HEX64 "0\"}",
    "{\"hostname\":\"a\",\"box_id\":\"x\",\"time_ns\":1,\"entropy\":\"ZZ" HEX64 "\"}",
    "{\"hostname\":\"a\",\"box_id\":\"x\",\"time_ns\":1,\"entropy\":\"" HEX64 "\",\"pids_max\":0}",
    "{\"hostname\":\"a\",\"box_id\":\"x\",\"time_ns\":1,\"entropy\":\"" HEX64 "\",\"network\":1}",
    "{\"hostname\":\"a\",\"box_id\":\"x\",\"time_ns\":\"1\",\"entropy\":\"" HEX64 "\"}",
    "{\"hostname\":\"a\",\"box_id\":\"x\",\"time_ns\":1,\"entropy\":\"" HEX64
    "\",\"disk_bytes\":-5}",
};

int
main (int argc, char **argv)
{
    guint runs = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 20000;
    g_autoptr (GRand) rand = g_rand_new_with_seed (argc > 2 ? (guint32) atoi (argv[2]) : 1);
    const char *valid = VALID;
    gsize len = strlen (valid);
    struct agent_json *args = agent_json_parse (valid, len);
    struct agent_identity id;
    char err[160];
    guint accepted = 0;

    g_assert_nonnull (args);
    g_assert_cmpint (agent_identity_parse (args, &id, err, sizeof err), ==, 0);
    agent_json_free (args);
    g_assert_cmpstr (id.hostname, ==, "box-1.a");
    g_assert_cmpstr (id.box_id, ==, "abc");
    g_assert_cmpint (id.time_ns, ==, G_GINT64_CONSTANT (1700000000000000000));
    g_assert_cmpuint (id.entropy_len, ==, 64);
    g_assert_cmpuint (id.entropy[1], ==, 0x11);
    g_assert_true (id.network);
    g_assert_cmpuint (id.pids_max, ==, 64);
    g_assert_cmpuint (id.disk_bytes, ==, 4096);
    for (guint i = 0; i < G_N_ELEMENTS (refused); i++) {
        g_test_message ("refused[%u]", i);
        g_assert_false (parse (refused[i], strlen (refused[i])));
    }
    for (guint i = 0; i < runs; i++) {
        g_autofree char *buf = g_strndup (valid, len);
        guint flips = g_rand_int_range (rand, 1, 6);
        for (guint f = 0; f < flips; f++)
            buf[g_rand_int_range (rand, 0, (gint32) len)] = (char) g_rand_int_range (rand, 32, 127);
        accepted += parse (buf, len);
    }
    g_print ("%u identities replayed, %u accepted\n", runs, accepted);
    return 0;
}
#endif
