/* fuzz-registry.c: what the registry client makes of bytes a registry (or a
 * configuration) hands it: WWW-Authenticate challenges, token responses,
 * manifests, indexes and registry entries. The first input byte picks the
 * parser. Built as a libFuzzer target with -Dfuzzing=true (clang);
 * otherwise a driver that runs each file named on its command line once
 * (tests/test-registry replays mutated inputs in every test run). */
#include <string.h>

#include "registry-private.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
parse_manifest (const char *text, gsize len)
{
    BlDescriptor pick = { 0 };
    BlManifestKind kind;

    if (bl_manifest_kind (text, len, "application/json", &kind, NULL))
        bl_manifest_free (bl_manifest_parse (text, len, NULL));
    if (bl_index_pick (text, len, &pick, NULL))
        g_assert_true (bl_image_ref_is_sha256 (pick.digest) && pick.size >= 0);
    bl_descriptor_clear (&pick);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
    g_autofree char *text = NULL;
    g_auto (BlChallenge) challenge = { 0 };

    if (size == 0)
        return 0;
    /* A terminated copy of the rest: parsers given a length must not need it,
     * and the entry parser reads a C string. */
    text = g_strndup ((const char *) data + 1, size - 1);
    switch (data[0] % 4) {
    case 0:
        if (bl_challenge_parse ((const char *) data + 1, size - 1, &challenge, NULL) &&
            challenge.scheme == BL_CHALLENGE_BEARER)
            g_assert_nonnull (challenge.realm);
        break;
    case 1:
        g_free (bl_token_response_parse ((const char *) data + 1, size - 1, NULL));
        break;
    case 2:
        parse_manifest ((const char *) data + 1, size - 1);
        break;
    default:
        bl_registry_entry_free (bl_registry_entry_parse (text, NULL));
        break;
    }
    return 0;
}

#ifndef BOXLITE_LIBFUZZER
int
main (int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        g_autofree char *contents = NULL;
        gsize len = 0;

        if (!g_file_get_contents (argv[i], &contents, &len, NULL)) {
            g_printerr ("cannot read %s\n", argv[i]);
            return 1;
        }
        LLVMFuzzerTestOneInput ((const guint8 *) contents, len);
    }
    g_print ("%d inputs replayed\n", argc - 1);
    return 0;
}
#endif
