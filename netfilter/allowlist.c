/* allowlist.c: parsing allow_net rules and matching names and addresses
 * against them. Rules are parsed once into three sets: exact names (a hash
 * set of normalised names), wildcard suffixes (normalised, without "*."),
 * and address ranges (a single address is a range with a full prefix). */
#define G_LOG_DOMAIN "boxlite-net"

#include "allowlist.h"

#include <string.h>

/* The longest DNS label, in bytes. */
#define LABEL_MAX 63
/* Address sizes, in bytes. */
#define IPV4_LEN 4
#define IPV6_LEN 16

typedef struct {
    guint8 bytes[IPV6_LEN]; /* network byte order; IPV4_LEN used for IPv4 */
    gsize len;              /* IPV4_LEN or IPV6_LEN */
    guint prefix;           /* leading bits that must match, <= len * 8 */
} Range;

struct _BlAllowlist {
    GHashTable *names;    /* owned normalised names -> same pointer */
    GPtrArray *wildcards; /* owned normalised suffixes, "example.com" for "*.example.com" */
    GArray *ranges;       /* of Range */
};

static gboolean
is_label_char (char c)
{
    return g_ascii_isalnum (c) || c == '-' || c == '_';
}

/* Checks one label of @len bytes at @label, which is the last one if @last. */
static gboolean
label_is_valid (const char *label, size_t len, gboolean last)
{
    gboolean all_digits = TRUE;

    if (len == 0 || len > LABEL_MAX || label[0] == '-' || label[len - 1] == '-')
        return FALSE;
    for (size_t i = 0; i < len; i++) {
        if (!is_label_char (label[i]))
            return FALSE;
        if (!g_ascii_isdigit (label[i]))
            all_digits = FALSE;
    }
    return !(last && all_digits);
}

gboolean
bl_net_name_normalize (const char *name, size_t len, char *out, size_t cap)
{
    size_t start = 0;

    if (cap > 0)
        out[0] = '\0';
    if (name == NULL)
        return FALSE;
    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0 || len > BL_NET_NAME_MAX || len >= cap)
        return FALSE;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && name[i] != '.')
            continue;
        if (!label_is_valid (name + start, i - start, i == len))
            return FALSE;
        start = i + 1;
    }
    for (size_t i = 0; i < len; i++)
        out[i] = g_ascii_tolower (name[i]);
    out[len] = '\0';
    return TRUE;
}

/* Parses @text as "address/prefix" or a lone address into @range. */
static gboolean
parse_range (const char *text, Range *range, GError **error)
{
    const char *slash = strchr (text, '/');
    g_autofree char *host = g_strndup (text, slash ? (gsize) (slash - text) : strlen (text));
    g_autoptr (GInetAddress) addr = NULL;
    guint64 prefix;

    if (!g_hostname_is_ip_address (host) ||
        (addr = g_inet_address_new_from_string (host)) == NULL) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "“%s” is not an IP address",
                     host);
        return FALSE;
    }
    range->len = g_inet_address_get_native_size (addr);
    memcpy (range->bytes, g_inet_address_to_bytes (addr), range->len);
    range->prefix = (guint) range->len * 8;
    if (slash == NULL)
        return TRUE;

    if (!g_ascii_string_to_unsigned (slash + 1, 10, 0, range->len * 8, &prefix, NULL)) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "prefix length “%s” is not a number from 0 to %" G_GSIZE_FORMAT, slash + 1,
                     range->len * 8);
        return FALSE;
    }
    range->prefix = (guint) prefix;
    for (guint bit = range->prefix; bit < range->len * 8; bit++) {
        if (range->bytes[bit / 8] & (0x80u >> (bit % 8))) {
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         "address has bits set beyond the /%u prefix", range->prefix);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
looks_like_address (const char *rule)
{
    return strchr (rule, ':') != NULL || strchr (rule, '/') != NULL ||
           g_hostname_is_ip_address (rule);
}

/* Adds one rule (NUL-terminated) to @list. */
static gboolean
add_rule (BlAllowlist *list, const char *rule, GError **error)
{
    char name[BL_NET_NAME_CAP];
    size_t len = strlen (rule);

    if (looks_like_address (rule)) {
        Range range = { 0 };
        if (!parse_range (rule, &range, error))
            return FALSE;
        g_array_append_val (list->ranges, range);
        return TRUE;
    }
    if (g_str_has_prefix (rule, "*.")) {
        if (!bl_net_name_normalize (rule + 2, len - 2, name, sizeof name)) {
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         "“%s” after “*.” is not a host name", rule + 2);
            return FALSE;
        }
        g_ptr_array_add (list->wildcards, g_strdup (name));
        return TRUE;
    }
    if (!bl_net_name_normalize (rule, len, name, sizeof name)) {
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                             "not a host name, “*.” wildcard, IP address or CIDR range");
        return FALSE;
    }
    char *owned = g_strdup (name);
    g_hash_table_add (list->names, owned);
    return TRUE;
}

BlAllowlist *
bl_net_allowlist_new (const char *const *rules, GError **error)
{
    BlAllowlist *list = g_new0 (BlAllowlist, 1);
    g_autoptr (BlAllowlist) guard = list;

    list->names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    list->wildcards = g_ptr_array_new_with_free_func (g_free);
    list->ranges = g_array_new (FALSE, TRUE, sizeof (Range));

    for (gsize i = 0; rules != NULL && rules[i] != NULL; i++) {
        if (!add_rule (list, rules[i], error)) {
            g_prefix_error (error, "allow_net rule %" G_GSIZE_FORMAT " “%s”: ", i, rules[i]);
            return NULL;
        }
    }
    return g_steal_pointer (&guard);
}

gboolean
bl_net_allowlist_is_empty (const BlAllowlist *list)
{
    g_return_val_if_fail (list != NULL, FALSE);

    return g_hash_table_size (list->names) == 0 && list->wildcards->len == 0 &&
           list->ranges->len == 0;
}

/* TRUE if normalised @name lies strictly below normalised @suffix. */
static gboolean
is_below (const char *name, size_t name_len, const char *suffix)
{
    size_t suffix_len = strlen (suffix);

    return name_len > suffix_len + 1 && name[name_len - suffix_len - 1] == '.' &&
           memcmp (name + name_len - suffix_len, suffix, suffix_len) == 0;
}

gboolean
bl_net_allowlist_allows_name (const BlAllowlist *list, const char *name)
{
    char normal[BL_NET_NAME_CAP];
    size_t len;

    g_return_val_if_fail (list != NULL, FALSE);

    if (bl_net_allowlist_is_empty (list))
        return TRUE;
    if (name == NULL || !bl_net_name_normalize (name, strlen (name), normal, sizeof normal))
        return FALSE;
    if (g_hash_table_contains (list->names, normal))
        return TRUE;
    len = strlen (normal);
    for (guint i = 0; i < list->wildcards->len; i++) {
        if (is_below (normal, len, g_ptr_array_index (list->wildcards, i)))
            return TRUE;
    }
    return FALSE;
}

/* TRUE if the first @bits bits of @a and @b are equal. */
static gboolean
prefix_equal (const guint8 *a, const guint8 *b, guint bits)
{
    guint whole = bits / 8;
    guint rest = bits % 8;
    guint8 mask = (guint8) (0xffu << (8 - rest));

    if (memcmp (a, b, whole) != 0)
        return FALSE;
    return rest == 0 || ((a[whole] ^ b[whole]) & mask) == 0;
}

gboolean
bl_net_allowlist_allows_address (const BlAllowlist *list, GInetAddress *addr)
{
    g_return_val_if_fail (list != NULL, FALSE);

    if (bl_net_allowlist_is_empty (list))
        return TRUE;
    if (addr == NULL)
        return FALSE;
    return bl_net_allowlist_allows_bytes (list, g_inet_address_to_bytes (addr),
                                          g_inet_address_get_native_size (addr));
}

gboolean
bl_net_allowlist_allows_bytes (const BlAllowlist *list, const guint8 *bytes, gsize len)
{
    static const guint8 v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

    g_return_val_if_fail (list != NULL, FALSE);

    if (bl_net_allowlist_is_empty (list))
        return TRUE;
    if (len == IPV6_LEN && memcmp (bytes, v4_mapped, sizeof v4_mapped) == 0) {
        bytes += sizeof v4_mapped;
        len = IPV4_LEN;
    }
    for (guint i = 0; i < list->ranges->len; i++) {
        const Range *range = &g_array_index (list->ranges, Range, i);
        if (range->len == len && prefix_equal (range->bytes, bytes, range->prefix))
            return TRUE;
    }
    return FALSE;
}

void
bl_net_allowlist_free (BlAllowlist *list)
{
    if (list == NULL)
        return;
    g_clear_pointer (&list->names, g_hash_table_unref);
    g_clear_pointer (&list->wildcards, g_ptr_array_unref);
    g_clear_pointer (&list->ranges, g_array_unref);
    g_free (list);
}
