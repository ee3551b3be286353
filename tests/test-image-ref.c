/* test-image-ref.c: image reference parsing, canonical forms, re-targeting
 * unqualified names, loopback registries, and a replay of random and
 * mutated input. */
#include <string.h>

#include <boxlite/boxlite-error.h>
#include "image-ref.h"

#define HEX16 "0123456789abcdef"
#define SHA256 "sha256:" HEX16 HEX16 HEX16 HEX16
#define SHA512 "sha512:" HEX16 HEX16 HEX16 HEX16 HEX16 HEX16 HEX16 HEX16

typedef struct {
    const char *text;
    const char *canonical; /* NULL: the text must be refused */
    gboolean qualified;
} Case;

static const Case cases[] = {
    /* Docker Hub and its defaults */
    { "alpine", "docker.io/library/alpine:latest", FALSE },
    { "alpine:3.19", "docker.io/library/alpine:3.19", FALSE },
    { "python:3.12-slim", "docker.io/library/python:3.12-slim", FALSE },
    { "user/app", "docker.io/user/app:latest", FALSE },
    { "user/app:V1.0_rc-2", "docker.io/user/app:V1.0_rc-2", FALSE },
    { "docker.io/alpine", "docker.io/library/alpine:latest", TRUE },
    { "docker.io/library/alpine", "docker.io/library/alpine:latest", TRUE },
    { "index.docker.io/alpine:edge", "docker.io/library/alpine:edge", TRUE },
    { "registry-1.docker.io/user/app", "docker.io/user/app:latest", TRUE },
    { "Index.Docker.IO/user/app", "docker.io/user/app:latest", TRUE },
    { "alpine@" SHA256, "docker.io/library/alpine@" SHA256, FALSE },
    { "alpine:3@" SHA256, "docker.io/library/alpine:3@" SHA256, FALSE },
    { "localhost:5000", "docker.io/library/localhost:5000", FALSE },
    { "a/b/c/d", "docker.io/a/b/c/d:latest", FALSE },
    /* separators */
    { "a.b_c__d-e---f", "docker.io/library/a.b_c__d-e---f:latest", FALSE },
    { "0/9", "docker.io/0/9:latest", FALSE },
    /* no '/': "quay.io" is a repository on Docker Hub, not a registry */
    { "quay.io", "docker.io/library/quay.io:latest", FALSE },
    /* registries */
    { "localhost/x", "localhost/x:latest", TRUE },
    { "localhost:5000/x", "localhost:5000/x:latest", TRUE },
    { "localhost:05000/x", "localhost:5000/x:latest", TRUE },
    { "quay.io/team/tool:1", "quay.io/team/tool:1", TRUE },
    { "Quay.IO/team/tool", "quay.io/team/tool:latest", TRUE },
    { "registry.example:5000/team/tool@" SHA256, "registry.example:5000/team/tool@" SHA256, TRUE },
    { "127.0.0.1:5000/a/b:v1", "127.0.0.1:5000/a/b:v1", TRUE },
    { "[::1]:5000/x", "[::1]:5000/x:latest", TRUE },
    { "[::1]/x", "[::1]/x:latest", TRUE },
    { "[0:0:0:0:0:0:0:1]:80/x", "[::1]:80/x:latest", TRUE },
    { "[2001:DB8::5]:65535/x", "[2001:db8::5]:65535/x:latest", TRUE },
    { "my-host.example/x", "my-host.example/x:latest", TRUE },
    { "h:1/x", "h:1/x:latest", TRUE },
    { "docker.io:443/x", "docker.io:443/x:latest", TRUE },
    /* tags and digests */
    { "x:_", "docker.io/library/x:_", FALSE },
    { "x@" SHA512, "docker.io/library/x@" SHA512, FALSE },
    { "x@sha3-256:" HEX16 HEX16, "docker.io/library/x@sha3-256:" HEX16 HEX16, FALSE },

    /* refused */
    { "", NULL, FALSE },
    { "Alpine", NULL, FALSE },
    { "user/App", NULL, FALSE },
    { "LOCALHOST/x", NULL, FALSE },
    { "alpine:", NULL, FALSE },
    { "alpine:-x", NULL, FALSE },
    { "alpine:.x", NULL, FALSE },
    { "alpine:a/b", NULL, FALSE },
    { "alpine:a b", NULL, FALSE },
    { "alpine@", NULL, FALSE },
    { "alpine@sha256:abc", NULL, FALSE },
    { "alpine@sha256:" HEX16 HEX16 HEX16 HEX16 "0", NULL, FALSE },
    { "alpine@sha256:" HEX16 HEX16 HEX16 "0123456789ABCDEF", NULL, FALSE },
    { "alpine@SHA256:" HEX16 HEX16 HEX16 HEX16, NULL, FALSE },
    { "alpine@md5:" HEX16, NULL, FALSE },
    { "alpine@" SHA256 "@" SHA256, NULL, FALSE },
    { "alpine@:" HEX16 HEX16, NULL, FALSE },
    { "/alpine", NULL, FALSE },
    { "alpine/", NULL, FALSE },
    { "a//b", NULL, FALSE },
    { "a..b", NULL, FALSE },
    { "a___b", NULL, FALSE },
    { "a.-b", NULL, FALSE },
    { "-a", NULL, FALSE },
    { "a-", NULL, FALSE },
    { "_a", NULL, FALSE },
    { "a b", NULL, FALSE },
    { " alpine", NULL, FALSE },
    { "alpine\n", NULL, FALSE },
    { "caf\xc3\xa9", NULL, FALSE },
    { "localhost:0/x", NULL, FALSE },
    { "localhost:65536/x", NULL, FALSE },
    { "localhost:99999999999999999999/x", NULL, FALSE },
    { "localhost:/x", NULL, FALSE },
    { "localhost:50a/x", NULL, FALSE },
    { "host:1:2/x", NULL, FALSE },
    { "-bad.example/x", NULL, FALSE },
    { "bad-.example/x", NULL, FALSE },
    { "bad..example/x", NULL, FALSE },
    { ".example/x", NULL, FALSE },
    { "under_score.example/x", NULL, FALSE },
    { "[::1]", NULL, FALSE },
    { "[::1]:5000", NULL, FALSE },
    { "[::1/x", NULL, FALSE },
    { "[]/x", NULL, FALSE },
    { "[::g]/x", NULL, FALSE },
    { "[fe80::1%eth0]/x", NULL, FALSE },
    { "[::1]x/x", NULL, FALSE },
    { "quay.io/", NULL, FALSE },
    { HEX16 HEX16 HEX16 HEX16, NULL, FALSE },
};

static gboolean
refs_equal (const BlImageRef *a, const BlImageRef *b)
{
    return g_strcmp0 (a->registry, b->registry) == 0 &&
           g_strcmp0 (a->repository, b->repository) == 0 && g_strcmp0 (a->tag, b->tag) == 0 &&
           g_strcmp0 (a->digest, b->digest) == 0;
}

/* A refusal has our domain and code, and a UTF-8 message naming the input. */
static void
assert_refused (const GError *error)
{
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_assert_true (g_utf8_validate (error->message, -1, NULL));
    g_assert_true (g_str_has_prefix (error->message, "invalid image reference '"));
}

/* The canonical string of @ref parses back to the same value, qualified, and
 * prints the same again. */
static void
assert_round_trip (const BlImageRef *ref)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *text = bl_image_ref_to_string (ref);
    g_autoptr (BlImageRef) again = bl_image_ref_parse (text, &error);
    g_autofree char *text_again = NULL;

    g_assert_no_error (error);
    g_assert_nonnull (again);
    g_assert_true (refs_equal (ref, again));
    g_assert_true (again->qualified);
    text_again = bl_image_ref_to_string (again);
    g_assert_cmpstr (text, ==, text_again);
}

static void
test_table (void)
{
    guint valid = 0, invalid = 0;

    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
        const Case *c = &cases[i];
        g_autoptr (GError) error = NULL;
        g_autoptr (BlImageRef) ref = bl_image_ref_parse (c->text, &error);

        if (c->canonical == NULL) {
            if (ref != NULL)
                g_error ("'%s' was accepted", c->text);
            assert_refused (error);
            invalid++;
        } else {
            g_autofree char *text = NULL;

            if (ref == NULL)
                g_error ("'%s' was refused: %s", c->text, error->message);
            text = bl_image_ref_to_string (ref);
            g_assert_cmpstr (text, ==, c->canonical);
            g_assert_cmpint (ref->qualified, ==, c->qualified);
            assert_round_trip (ref);
            valid++;
        }
    }
    g_assert_cmpuint (valid + invalid, >=, 40);
    g_assert_cmpuint (valid, >=, 20);
    g_assert_cmpuint (invalid, >=, 20);
}

static void
test_fields (void)
{
    g_autoptr (BlImageRef) alpine = bl_image_ref_parse ("alpine", NULL);
    g_autoptr (BlImageRef) pinned = bl_image_ref_parse ("reg.example/a/b@" SHA256, NULL);
    g_autoptr (BlImageRef) both = bl_image_ref_parse ("reg.example/a/b:t@" SHA256, NULL);

    g_assert_cmpstr (alpine->registry, ==, "docker.io");
    g_assert_cmpstr (alpine->repository, ==, "library/alpine");
    g_assert_cmpstr (alpine->tag, ==, "latest");
    g_assert_null (alpine->digest);
    g_assert_false (alpine->qualified);
    g_assert_true (alpine->implicit_library);

    g_assert_cmpstr (pinned->registry, ==, "reg.example");
    g_assert_cmpstr (pinned->repository, ==, "a/b");
    g_assert_null (pinned->tag);
    g_assert_cmpstr (pinned->digest, ==, SHA256);
    g_assert_true (pinned->qualified);
    g_assert_false (pinned->implicit_library);

    g_assert_cmpstr (both->tag, ==, "t");
    g_assert_cmpstr (both->digest, ==, SHA256);
}

static void
test_messages (void)
{
    static const struct {
        const char *text;
        const char *message;
    } expected[] = {
        { "Alpine", "invalid image reference 'Alpine': repository names must be lowercase" },
        { "", "invalid image reference '': the reference is empty" },
        { "x:", "invalid image reference 'x:': the tag after ':' is empty" },
        { "h:0/x", "invalid image reference 'h:0/x': the registry port must be 1-65535" },
        { "x@sha256:00", "invalid image reference 'x@sha256:00': a sha256 digest must have "
                         "exactly 64 lowercase hex digits" },
        { "a\tb", "invalid image reference 'a\\tb': byte 0x09 is not allowed in a repository "
                  "name" },
        { "a..b", "invalid image reference 'a..b': '..' is not a valid separator in a "
                  "repository name; use '.', '_', '__' or dashes" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (expected); i++) {
        g_autoptr (GError) error = NULL;
        g_autoptr (BlImageRef) ref = bl_image_ref_parse (expected[i].text, &error);

        g_assert_null (ref);
        assert_refused (error);
        g_assert_cmpstr (error->message, ==, expected[i].message);
    }
}

static void
test_lengths (void)
{
    /* "docker.io/" + "library/" + 237 bytes is exactly the 255 allowed. */
    g_autofree char *fits = g_strnfill (237, 'a');
    g_autofree char *over = g_strnfill (238, 'a');
    g_autofree char *long_tag = g_strconcat ("x:", fits, NULL);
    g_autofree char *huge = g_strnfill (1 << 20, 'a');
    g_autoptr (BlImageRef) ref = bl_image_ref_parse (fits, NULL);
    g_autoptr (GError) error = NULL;
    g_autofree char *tag128 = g_strnfill (BL_IMAGE_REF_TAG_MAX, 't');
    g_autofree char *with_tag128 = g_strconcat ("x:", tag128, NULL);
    g_autoptr (BlImageRef) tagged = bl_image_ref_parse (with_tag128, NULL);

    g_assert_nonnull (ref);
    g_assert_cmpuint (strlen (ref->registry) + 1 + strlen (ref->repository), ==,
                      BL_IMAGE_REF_NAME_MAX);
    assert_round_trip (ref);
    g_assert_null (bl_image_ref_parse (over, &error));
    assert_refused (error);
    g_clear_error (&error);
    g_assert_null (bl_image_ref_parse (long_tag, &error));
    assert_refused (error);
    g_clear_error (&error);
    g_assert_nonnull (tagged);
    g_assert_null (bl_image_ref_parse (huge, &error));
    assert_refused (error);
    g_assert_cmpuint (strlen (error->message), <, 1024);
}

static void
test_with_registry (void)
{
    g_autoptr (BlImageRef) alpine = bl_image_ref_parse ("alpine:3", NULL);
    g_autoptr (BlImageRef) user = bl_image_ref_parse ("user/app@" SHA256, NULL);
    g_autoptr (BlImageRef) library = bl_image_ref_parse ("library/alpine", NULL);
    g_autofree char *long_name = g_strnfill (230, 'a');
    g_autoptr (BlImageRef) longest = bl_image_ref_parse (long_name, NULL);
    struct {
        const BlImageRef *ref;
        const char *registry;
        const char *expected; /* NULL: refused */
    } targets[] = {
        { alpine, "quay.io", "quay.io/alpine:3" },
        { alpine, "Quay.IO", "quay.io/alpine:3" },
        { alpine, "docker.io", "docker.io/library/alpine:3" },
        { alpine, "index.docker.io", "docker.io/library/alpine:3" },
        { alpine, "localhost:05000", "localhost:5000/alpine:3" },
        { alpine, "[::1]:5000", "[::1]:5000/alpine:3" },
        { user, "quay.io", "quay.io/user/app@" SHA256 },
        { user, "docker.io", "docker.io/user/app@" SHA256 },
        { library, "quay.io", "quay.io/library/alpine:latest" },
        { longest, "docker.io", "docker.io/library/" },
        { longest, "a-much-longer-registry-name.example:5000", NULL },
        { alpine, "", NULL },
        { alpine, "bad host", NULL },
        { alpine, "quay.io/x", NULL },
        { alpine, "host:0", NULL },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (targets); i++) {
        g_autoptr (BlImageRef) moved =
            bl_image_ref_with_registry (targets[i].ref, targets[i].registry);
        g_autofree char *text = NULL;

        if (targets[i].expected == NULL) {
            g_assert_null (moved);
            continue;
        }
        g_assert_nonnull (moved);
        g_assert_true (moved->qualified);
        text = bl_image_ref_to_string (moved);
        g_assert_true (g_str_has_prefix (text, targets[i].expected));
        assert_round_trip (moved);
    }
}

static void
test_with_registry_qualified (void)
{
    if (g_test_subprocess ()) {
        g_autoptr (BlImageRef) ref = bl_image_ref_parse ("quay.io/a", NULL);
        g_autoptr (BlImageRef) moved = bl_image_ref_with_registry (ref, "docker.io");

        g_assert_null (moved);
        return;
    }
    g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed ();
    g_test_trap_assert_stderr ("*qualified*");
}

static void
test_normalize_registry (void)
{
    static const struct {
        const char *text;
        const char *normal;
    } table[] = {
        { "Quay.IO", "quay.io" },
        { "localhost:00080", "localhost:80" },
        { "registry-1.docker.io", "docker.io" },
        { "[::FFFF:127.0.0.1]:1", "[::ffff:127.0.0.1]:1" },
        { "", NULL },
        { "a_b", NULL },
        { "a:b", NULL },
        { "::1", NULL },
        { "h:70000", NULL },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (table); i++) {
        g_autoptr (GError) error = NULL;
        g_autofree char *normal = bl_image_ref_normalize_registry (table[i].text, &error);

        g_assert_cmpstr (normal, ==, table[i].normal);
        if (table[i].normal == NULL) {
            g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
            g_assert_true (g_str_has_prefix (error->message, "invalid registry '"));
        } else {
            g_assert_no_error (error);
        }
    }
}

static void
test_loopback (void)
{
    static const struct {
        const char *registry;
        gboolean loopback;
    } table[] = {
        { "localhost", TRUE },
        { "localhost:5000", TRUE },
        { "LocalHost:5000", TRUE },
        { "127.0.0.1", TRUE },
        { "127.0.0.1:5000", TRUE },
        { "127.255.3.4:80", TRUE },
        { "[::1]", TRUE },
        { "[::1]:5000", TRUE },
        { "::1", TRUE },
        { "[0:0:0:0:0:0:0:1]:5000", TRUE },
        { "[::ffff:127.0.0.1]:5000", TRUE },
        { "128.0.0.1", FALSE },
        { "10.0.0.1:5000", FALSE },
        { "127.0.0.1.example", FALSE },
        { "localhost.example", FALSE },
        { "mylocalhost", FALSE },
        { "[::2]:5000", FALSE },
        { "::2", FALSE },
        { "docker.io", FALSE },
        { "localhost:0", FALSE },
        { "localhost:x", FALSE },
        { "127.0.0.1:99999", FALSE },
        { "", FALSE },
        { NULL, FALSE },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (table); i++) {
        if (bl_image_ref_registry_is_loopback (table[i].registry) != table[i].loopback)
            g_error ("loopback of '%s' is not %d", table[i].registry, table[i].loopback);
    }
}

/* ---- replay of random and mutated input ---------------------------------- */

static const char *const seeds[] = {
    "alpine",
    "python:3.12-slim",
    "user/app:v1",
    "localhost:5000/x",
    "registry.example:5000/team/tool@" SHA256,
    "127.0.0.1:5000/a/b:v1",
    "[::1]:5000/x:tag",
    "index.docker.io/a.b_c__d-e/f@" SHA512,
    "x:3@" SHA256,
};

/* Bytes that matter to the grammar, picked more often than the rest. */
static const char special[] = "aZ09.:_-/@[]%";

static char
random_byte (GRand *rand)
{
    if (g_rand_boolean (rand))
        return special[g_rand_int_range (rand, 0, (gint32) sizeof special - 1)];
    return (char) g_rand_int_range (rand, 1, 256);
}

static void
mutate (GRand *rand, GString *s)
{
    gsize pos = s->len ? (gsize) g_rand_int_range (rand, 0, (gint32) s->len + 1) : 0;

    switch (g_rand_int_range (rand, 0, 6)) {
    case 0:
        if (pos < s->len)
            s->str[pos] = random_byte (rand);
        break;
    case 1:
        g_string_insert_c (s, (gssize) pos, random_byte (rand));
        break;
    case 2:
        if (pos < s->len)
            g_string_erase (s, (gssize) pos, 1);
        break;
    case 3:
        g_string_truncate (s, pos);
        break;
    case 4: {
        g_autofree char *copy = g_strndup (s->str + pos, 40);
        g_string_insert (s, (gssize) pos, copy);
        break;
    }
    default:
        g_string_append (s, seeds[g_rand_int_range (rand, 0, G_N_ELEMENTS (seeds))]);
        break;
    }
}

static char *
random_input (GRand *rand)
{
    GString *s = g_string_new (NULL);

    if (g_rand_int_range (rand, 0, 5) == 0) {
        gint32 len = g_rand_int_range (rand, 0, 1300);

        for (gint32 i = 0; i < len; i++)
            g_string_append_c (s, random_byte (rand));
    } else {
        gint32 rounds = g_rand_int_range (rand, 0, 5);

        g_string_assign (s, seeds[g_rand_int_range (rand, 0, G_N_ELEMENTS (seeds))]);
        for (gint32 i = 0; i < rounds; i++)
            mutate (rand, s);
    }
    return g_string_free (s, FALSE);
}

static void
test_replay (void)
{
    g_autoptr (GRand) rand = g_rand_new_with_seed (0x626c6972);
    guint parsed = 0, refused = 0;

    for (guint i = 0; i < 20000; i++) {
        g_autofree char *text = random_input (rand);
        g_autoptr (GError) error = NULL;
        g_autoptr (BlImageRef) ref = bl_image_ref_parse (text, &error);

        if (ref != NULL) {
            g_assert_no_error (error);
            assert_round_trip (ref);
            parsed++;
        } else {
            assert_refused (error);
            refused++;
        }
    }
    g_test_message ("%u parsed, %u refused", parsed, refused);
    g_assert_cmpuint (parsed, >=, 2000);
    g_assert_cmpuint (refused, >=, 2000);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);

    g_test_add_func ("/image-ref/table", test_table);
    g_test_add_func ("/image-ref/fields", test_fields);
    g_test_add_func ("/image-ref/messages", test_messages);
    g_test_add_func ("/image-ref/lengths", test_lengths);
    g_test_add_func ("/image-ref/with-registry", test_with_registry);
    g_test_add_func ("/image-ref/with-registry-qualified", test_with_registry_qualified);
    g_test_add_func ("/image-ref/normalize-registry", test_normalize_registry);
    g_test_add_func ("/image-ref/loopback", test_loopback);
    g_test_add_func ("/image-ref/replay", test_replay);
    return g_test_run ();
}
