/* image-ref.c: parsing and normalising image references.
 *
 * The grammar is the one of the distribution project's reference package:
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ registry "/" ] component ( "/" component )*
 *   registry   := host [ ":" port ]      host: DNS name or "[" IPv6 "]"
 *   component  := alnum ( separator alnum )*   alnum: [a-z0-9]+
 *   separator  := "." | "_" | "__" | "-"+
 *   tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 *   digest     := algorithm ":" hex
 *
 * The first component is the registry only if it has a '.' or a ':' or is
 * "localhost". Every parser below takes a pointer and a length it has
 * checked, never relies on a terminator inside the slice, and reports why
 * it refused in an error that the caller prefixes with the whole text.
 */
#define G_LOG_DOMAIN "boxlite-image"

#include "image-ref.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <boxlite/boxlite-error.h>

#define LIBRARY_PREFIX "library/"
/* Longest text quoted back in an error message, in bytes. */
#define QUOTE_MAX 128
/* The longest DNS label. */
#define LABEL_MAX 63

static void refuse (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
refuse (GError **error, const char *format, ...)
{
    va_list args;
    g_autofree char *message = NULL;

    va_start (args, format);
    message = g_strdup_vprintf (format, args);
    va_end (args);
    g_set_error_literal (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT, message);
}

/* @text quoted for a message: at most QUOTE_MAX bytes, control and non-ASCII
 * bytes escaped, so the message is valid UTF-8 whatever @text holds. */
static char *
quote (const char *text)
{
    g_autofree char *head = g_strndup (text, QUOTE_MAX);
    g_autofree char *escaped = g_strescape (head, NULL);
    gboolean cut = strnlen (text, QUOTE_MAX + 1) > QUOTE_MAX;

    return g_strdup_printf ("'%s%s'", escaped, cut ? "..." : "");
}

/* Adds "invalid @what 'text': " in front of the reason in @error. */
static void
prefix_with_text (GError **error, const char *what, const char *text)
{
    g_autofree char *quoted = NULL;

    if (error == NULL || *error == NULL)
        return;
    quoted = quote (text);
    g_prefix_error (error, "invalid %s %s: ", what, quoted);
}

/* One byte named for a message: 'x' when printable, else its hex value. */
static char *
name_byte (char c)
{
    if (g_ascii_isprint (c) && c != '\'')
        return g_strdup_printf ("'%c'", c);
    return g_strdup_printf ("byte 0x%02x", (guint) (guchar) c);
}

static gboolean
is_lower_alnum (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static gboolean
is_lower_hex (char c)
{
    return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9');
}

static gboolean
all_lower_hex (const char *s, gsize len)
{
    for (gsize i = 0; i < len; i++) {
        if (!is_lower_hex (s[i]))
            return FALSE;
    }
    return TRUE;
}

/* ---- registry ---------------------------------------------------------- */

/* "[IPv6]" at the start of @s: appends it in inet_ntop's form to @out and
 * returns the bytes read, or 0 with @error set. */
static gsize
read_ipv6_host (const char *s, gsize len, GString *out, GError **error)
{
    const char *close = memchr (s, ']', len);
    char text[INET6_ADDRSTRLEN];
    char normal[INET6_ADDRSTRLEN];
    struct in6_addr addr;
    gsize inner;

    if (close == NULL) {
        refuse (error, "the registry's '[' has no matching ']'");
        return 0;
    }
    inner = (gsize) (close - s) - 1;
    if (inner == 0 || inner >= sizeof text) {
        refuse (error, "the registry's brackets do not hold an IPv6 address");
        return 0;
    }
    memcpy (text, s + 1, inner);
    text[inner] = '\0';
    if (inet_pton (AF_INET6, text, &addr) != 1 ||
        inet_ntop (AF_INET6, &addr, normal, sizeof normal) == NULL) {
        refuse (error, "the registry's brackets do not hold an IPv6 address");
        return 0;
    }
    g_string_append_printf (out, "[%s]", normal);
    return inner + 2;
}

/* A DNS name at the start of @s, up to the first ':': appends it lowercase
 * to @out and returns its length, or 0 with @error set. */
static gsize
read_dns_host (const char *s, gsize len, GString *out, GError **error)
{
    const char *colon = memchr (s, ':', len);
    gsize end = colon ? (gsize) (colon - s) : len;
    gsize label = 0;

    for (gsize i = 0; i < end; i++) {
        char c = s[i];

        if (c == '.' && label > 0 && s[i - 1] != '-') {
            label = 0;
        } else if (g_ascii_isalnum (c) || (c == '-' && label > 0)) {
            if (++label > LABEL_MAX) {
                refuse (error, "a label of the registry host is longer than %d bytes", LABEL_MAX);
                return 0;
            }
        } else if (c == '.' || c == '-') {
            refuse (error, "the labels of a registry host must start and end with a letter or "
                           "digit");
            return 0;
        } else {
            g_autofree char *named = name_byte (c);
            refuse (error, "%s is not allowed in a registry host", named);
            return 0;
        }
        g_string_append_c (out, g_ascii_tolower (c));
    }
    if (end == 0 || label == 0 || s[end - 1] == '-') {
        refuse (error, "the registry host is empty or ends in '.' or '-'");
        return 0;
    }
    return end;
}

/* ":port" (all of @s): appends ":N" with N in plain decimal to @out. */
static gboolean
read_port (const char *s, gsize len, GString *out, GError **error)
{
    guint port = 0;

    if (s[0] != ':') {
        refuse (error, "the registry host must be followed by ':port' or nothing");
        return FALSE;
    }
    if (len == 1) {
        refuse (error, "the registry port after ':' is empty");
        return FALSE;
    }
    for (gsize i = 1; i < len; i++) {
        if (!g_ascii_isdigit (s[i])) {
            refuse (error, "the registry port is not a number");
            return FALSE;
        }
        port = MIN (port * 10 + (guint) (s[i] - '0'), 100000u);
    }
    if (port < 1 || port > 65535) {
        refuse (error, "the registry port must be 1-65535");
        return FALSE;
    }
    g_string_append_printf (out, ":%u", port);
    return TRUE;
}

/* The registry @s of @len bytes in normal form: lowercase, port in plain
 * decimal, IPv6 as inet_ntop writes it, Docker Hub's aliases folded. */
static char *
normalize_registry (const char *s, gsize len, GError **error)
{
    g_autoptr (GString) out = g_string_sized_new (len + 2);
    gsize host;

    if (len == 0) {
        refuse (error, "the registry is empty");
        return NULL;
    }
    if (s[0] == '[')
        host = read_ipv6_host (s, len, out, error);
    else
        host = read_dns_host (s, len, out, error);
    if (host == 0)
        return NULL;
    if (host < len && !read_port (s + host, len - host, out, error))
        return NULL;
    if (g_str_equal (out->str, "index.docker.io") || g_str_equal (out->str, "registry-1.docker.io"))
        g_string_assign (out, BL_IMAGE_REF_DEFAULT_REGISTRY);
    return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Whether @s, the text before the first '/', names a registry. */
static gboolean
looks_like_registry (const char *s, gsize len)
{
    return memchr (s, '.', len) != NULL || memchr (s, ':', len) != NULL ||
           (len == strlen ("localhost") && memcmp (s, "localhost", len) == 0);
}

/* ---- repository, tag, digest ------------------------------------------- */

static gboolean
separator_valid (const char *s, gsize len)
{
    if (len == 1 && (s[0] == '.' || s[0] == '_'))
        return TRUE;
    if (len == 2 && s[0] == '_' && s[1] == '_')
        return TRUE;
    for (gsize i = 0; i < len; i++) {
        if (s[i] != '-')
            return FALSE;
    }
    return TRUE;
}

/* One path component, whose bytes are already known to be [a-z0-9._-]. */
static gboolean
check_component (const char *s, gsize len, GError **error)
{
    gsize i = 0;

    if (len == 0) {
        refuse (error, "the repository has an empty path component");
        return FALSE;
    }
    if (!is_lower_alnum (s[0]) || !is_lower_alnum (s[len - 1])) {
        refuse (error, "repository path components must start and end with a letter or digit");
        return FALSE;
    }
    while (i < len) {
        gsize sep;

        while (i < len && is_lower_alnum (s[i]))
            i++;
        sep = i;
        while (i < len && !is_lower_alnum (s[i]))
            i++;
        if (!separator_valid (s + sep, i - sep)) {
            refuse (error,
                    "'%.*s' is not a valid separator in a repository name; use '.', '_', "
                    "'__' or dashes",
                    (int) (i - sep), s + sep);
            return FALSE;
        }
    }
    return TRUE;
}

/* The repository path @s of @len bytes: lowercase components split by '/'. */
static gboolean
check_path (const char *s, gsize len, GError **error)
{
    gsize start = 0;

    if (len == 0) {
        refuse (error, "the repository is empty");
        return FALSE;
    }
    for (gsize i = 0; i < len; i++) {
        if (g_ascii_isupper (s[i])) {
            refuse (error, "repository names must be lowercase");
            return FALSE;
        }
    }
    for (gsize i = 0; i < len; i++) {
        if (!is_lower_alnum (s[i]) && !strchr ("._-/", s[i])) {
            g_autofree char *named = name_byte (s[i]);
            refuse (error, "%s is not allowed in a repository name", named);
            return FALSE;
        }
    }
    for (gsize i = 0; i <= len; i++) {
        if (i < len && s[i] != '/')
            continue;
        if (!check_component (s + start, i - start, error))
            return FALSE;
        start = i + 1;
    }
    return TRUE;
}

static gboolean
check_tag (const char *s, gsize len, GError **error)
{
    if (len == 0) {
        refuse (error, "the tag after ':' is empty");
        return FALSE;
    }
    if (len > BL_IMAGE_REF_TAG_MAX) {
        refuse (error, "the tag is %" G_GSIZE_FORMAT " bytes long; at most %d are allowed", len,
                BL_IMAGE_REF_TAG_MAX);
        return FALSE;
    }
    for (gsize i = 0; i < len; i++) {
        char c = s[i];

        if (g_ascii_isalnum (c) || c == '_' || (i > 0 && (c == '.' || c == '-')))
            continue;
        if (i == 0 && (c == '.' || c == '-')) {
            refuse (error, "a tag must not start with '%c'", c);
        } else {
            g_autofree char *named = name_byte (c);
            refuse (error, "%s is not allowed in a tag", named);
        }
        return FALSE;
    }
    return TRUE;
}

/* algorithm := component ( [+._-] component )*, component := [a-z0-9]+ */
static gboolean
algorithm_valid (const char *s, gsize len)
{
    if (len == 0 || !is_lower_alnum (s[0]) || !is_lower_alnum (s[len - 1]))
        return FALSE;
    for (gsize i = 1; i < len; i++) {
        if (is_lower_alnum (s[i]))
            continue;
        if (!strchr ("+._-", s[i]) || !is_lower_alnum (s[i - 1]))
            return FALSE;
    }
    return TRUE;
}

/* "algorithm:hex". sha256 and sha512 need their exact length; any other
 * algorithm at least 32 hex digits. Hex digits are lowercase. */
static gboolean
check_digest (const char *s, gsize len, GError **error)
{
    const char *colon = memchr (s, ':', len);
    gsize alg_len = colon ? (gsize) (colon - s) : 0;
    const char *hex = colon ? colon + 1 : NULL;
    gsize hex_len = colon ? len - alg_len - 1 : 0;

    if (len > BL_IMAGE_REF_DIGEST_MAX) {
        refuse (error, "the digest is longer than %d bytes", BL_IMAGE_REF_DIGEST_MAX);
        return FALSE;
    }
    if (colon == NULL || !algorithm_valid (s, alg_len)) {
        refuse (error, "the digest after '@' must be 'algorithm:hex', such as 'sha256:...'");
        return FALSE;
    }
    if (alg_len == 6 && memcmp (s, "sha256", 6) == 0) {
        if (hex_len != 64 || !all_lower_hex (hex, hex_len)) {
            refuse (error, "a sha256 digest must have exactly 64 lowercase hex digits");
            return FALSE;
        }
    } else if (alg_len == 6 && memcmp (s, "sha512", 6) == 0) {
        if (hex_len != 128 || !all_lower_hex (hex, hex_len)) {
            refuse (error, "a sha512 digest must have exactly 128 lowercase hex digits");
            return FALSE;
        }
    } else if (hex_len < 32 || !all_lower_hex (hex, hex_len)) {
        refuse (error, "a digest must have at least 32 lowercase hex digits");
        return FALSE;
    }
    return TRUE;
}

gboolean
bl_image_ref_is_sha256 (const char *digest)
{
    return digest && strncmp (digest, "sha256:", 7) == 0 && strlen (digest) == 7 + 64 &&
           all_lower_hex (digest + 7, 64);
}

/* ---- assembling -------------------------------------------------------- */

/* A reference on @registry (normalised, taken) for the checked @path,
 * with "library/" added for single components on Docker Hub. */
static BlImageRef *
assemble (char *registry, const char *path, gsize path_len, GError **error)
{
    g_autoptr (BlImageRef) ref = g_new0 (BlImageRef, 1);
    gsize name_len;

    ref->registry = registry;
    ref->implicit_library = g_str_equal (registry, BL_IMAGE_REF_DEFAULT_REGISTRY) &&
                            memchr (path, '/', path_len) == NULL;
    if (ref->implicit_library)
        ref->repository = g_strdup_printf (LIBRARY_PREFIX "%.*s", (int) path_len, path);
    else
        ref->repository = g_strndup (path, path_len);
    name_len = strlen (ref->registry) + 1 + strlen (ref->repository);
    if (name_len > BL_IMAGE_REF_NAME_MAX) {
        refuse (error, "the name '%s/%s' is %" G_GSIZE_FORMAT " bytes long; at most %d are allowed",
                ref->registry, ref->repository, name_len, BL_IMAGE_REF_NAME_MAX);
        return NULL;
    }
    return g_steal_pointer (&ref);
}

/* Splits the name (the text before any ':tag' and '@digest') into its
 * registry and path and checks both. */
static BlImageRef *
parse_name (const char *s, gsize len, GError **error)
{
    const char *slash = memchr (s, '/', len);
    gsize head = slash ? (gsize) (slash - s) : 0;
    g_autofree char *registry = NULL;
    BlImageRef *ref;

    if (slash == NULL || !looks_like_registry (s, head)) {
        if (!check_path (s, len, error))
            return NULL;
        return assemble (g_strdup (BL_IMAGE_REF_DEFAULT_REGISTRY), s, len, error);
    }
    registry = normalize_registry (s, head, error);
    if (registry == NULL || !check_path (slash + 1, len - head - 1, error))
        return NULL;
    ref = assemble (g_steal_pointer (&registry), slash + 1, len - head - 1, error);
    if (ref != NULL)
        ref->qualified = TRUE;
    return ref;
}

/* Where the tag's ':' is in the name part @s: the last ':' after the last
 * '/', or NULL. */
static const char *
find_tag_colon (const char *s, gsize len)
{
    for (gsize i = len; i > 0; i--) {
        if (s[i - 1] == '/')
            return NULL;
        if (s[i - 1] == ':')
            return s + i - 1;
    }
    return NULL;
}

static BlImageRef *
parse_bounded (const char *text, gsize len, GError **error)
{
    const char *at = memchr (text, '@', len);
    gsize name_len = at ? (gsize) (at - text) : len;
    const char *colon = find_tag_colon (text, name_len);
    g_autoptr (BlImageRef) ref = NULL;

    if (len == 64 && all_lower_hex (text, len)) {
        refuse (error, "64 hex digits are an image id, not a reference");
        return NULL;
    }
    if (text[0] == '[' && memchr (text, '/', name_len) == NULL) {
        refuse (error, "it names a registry but no repository");
        return NULL;
    }
    if (at && !check_digest (at + 1, len - name_len - 1, error))
        return NULL;
    if (colon && !check_tag (colon + 1, name_len - (gsize) (colon - text) - 1, error))
        return NULL;
    if (colon)
        name_len = (gsize) (colon - text);
    ref = parse_name (text, name_len, error);
    if (ref == NULL)
        return NULL;
    if (colon)
        ref->tag = g_strndup (colon + 1, (gsize) ((at ? at : text + len) - colon - 1));
    if (at)
        ref->digest = g_strndup (at + 1, len - (gsize) (at - text) - 1);
    if (!colon && !at)
        ref->tag = g_strdup (BL_IMAGE_REF_DEFAULT_TAG);
    return g_steal_pointer (&ref);
}

BlImageRef *
bl_image_ref_parse (const char *text, GError **error)
{
    gsize len;
    BlImageRef *ref;

    g_return_val_if_fail (text != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    len = strnlen (text, BL_IMAGE_REF_TEXT_MAX + 1);
    if (len == 0) {
        refuse (error, "the reference is empty");
        ref = NULL;
    } else if (len > BL_IMAGE_REF_TEXT_MAX) {
        refuse (error, "the reference is longer than %d bytes", BL_IMAGE_REF_TEXT_MAX);
        ref = NULL;
    } else {
        ref = parse_bounded (text, len, error);
    }
    if (ref == NULL)
        prefix_with_text (error, "image reference", text);
    return ref;
}

void
bl_image_ref_free (BlImageRef *ref)
{
    if (ref == NULL)
        return;
    g_free (ref->registry);
    g_free (ref->repository);
    g_free (ref->tag);
    g_free (ref->digest);
    g_free (ref);
}

char *
bl_image_ref_to_string (const BlImageRef *ref)
{
    GString *out;

    g_return_val_if_fail (ref != NULL && ref->repository != NULL, NULL);

    out = g_string_new (NULL);
    if (ref->registry != NULL)
        g_string_append_printf (out, "%s/", ref->registry);
    g_string_append (out, ref->repository);
    if (ref->tag != NULL)
        g_string_append_printf (out, ":%s", ref->tag);
    if (ref->digest != NULL)
        g_string_append_printf (out, "@%s", ref->digest);
    return g_string_free (out, FALSE);
}

BlImageRef *
bl_image_ref_with_registry (const BlImageRef *ref, const char *registry)
{
    const char *path;
    char *normal;
    BlImageRef *copy;

    g_return_val_if_fail (ref != NULL && ref->repository != NULL, NULL);
    g_return_val_if_fail (registry != NULL, NULL);
    g_return_val_if_fail (!ref->qualified, NULL);

    normal = bl_image_ref_normalize_registry (registry, NULL);
    if (normal == NULL)
        return NULL;
    path = ref->repository;
    if (ref->implicit_library && g_str_has_prefix (path, LIBRARY_PREFIX))
        path += strlen (LIBRARY_PREFIX);
    copy = assemble (normal, path, strlen (path), NULL);
    if (copy == NULL)
        return NULL;
    copy->qualified = TRUE;
    copy->tag = g_strdup (ref->tag);
    copy->digest = g_strdup (ref->digest);
    return copy;
}

char *
bl_image_ref_normalize_registry (const char *registry, GError **error)
{
    gsize len;
    char *normal;

    g_return_val_if_fail (registry != NULL, NULL);

    len = strnlen (registry, BL_IMAGE_REF_NAME_MAX + 1);
    if (len > BL_IMAGE_REF_NAME_MAX) {
        refuse (error, "the registry is longer than %d bytes", BL_IMAGE_REF_NAME_MAX);
        normal = NULL;
    } else {
        normal = normalize_registry (registry, len, error);
    }
    if (normal == NULL)
        prefix_with_text (error, "registry", registry);
    return normal;
}

static gboolean
ipv6_is_loopback (const char *text)
{
    struct in6_addr addr;

    if (inet_pton (AF_INET6, text, &addr) != 1)
        return FALSE;
    if (IN6_IS_ADDR_LOOPBACK (&addr))
        return TRUE;
    return IN6_IS_ADDR_V4MAPPED (&addr) && addr.s6_addr[12] == 127;
}

gboolean
bl_image_ref_registry_is_loopback (const char *registry)
{
    g_autofree char *normal = NULL;
    g_autofree char *host = NULL;
    struct in_addr addr4;
    char *end;

    if (registry == NULL)
        return FALSE;
    if (strnlen (registry, INET6_ADDRSTRLEN) < INET6_ADDRSTRLEN && ipv6_is_loopback (registry))
        return TRUE;
    normal = bl_image_ref_normalize_registry (registry, NULL);
    if (normal == NULL)
        return FALSE;
    if (normal[0] == '[') {
        end = strchr (normal, ']');
        host = g_strndup (normal + 1, (gsize) (end - normal - 1));
        return ipv6_is_loopback (host);
    }
    end = strchr (normal, ':');
    host = end ? g_strndup (normal, (gsize) (end - normal)) : g_strdup (normal);
    if (g_str_equal (host, "localhost"))
        return TRUE;
    return inet_pton (AF_INET, host, &addr4) == 1 && ((const guint8 *) &addr4.s_addr)[0] == 127;
}
