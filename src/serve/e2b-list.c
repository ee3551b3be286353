/* e2b-list.c: the query of E2B's sandbox list (GET /v2/sandboxes): which
 * states, how many per page, where the page starts, in which order.
 *
 * The list is ordered by start time (newest first unless order=asc), ties
 * broken by id, so a page token names a position in it: the start time
 * and id of the last sandbox handed out, "US.ID". Sandboxes that come or
 * go between two pages move nothing: the next page is what follows that
 * position now. Everything here comes from the client's query string and
 * is checked before use. */
#define G_LOG_DOMAIN "boxlite-serve"

#include <string.h>

#include "e2b.h"

static gboolean
id_char (char c)
{
    return g_ascii_isalnum (c) || c == '-' || c == '_';
}

/* The cursor in @token; FALSE when it is not one of ours. */
static gboolean
token_parse (const char *token, BlE2bListQuery *q)
{
    const char *dot = strchr (token, '.');
    gsize digits = dot ? (gsize) (dot - token) : 0;
    const char *id = dot ? dot + 1 : NULL;
    char number[20];
    guint64 us;

    /* Digits without a leading zero (one token per position), then an id. */
    if (!digits || digits >= sizeof number || (token[0] == '0' && digits > 1))
        return FALSE;
    for (gsize i = 0; i < digits; i++)
        if (!g_ascii_isdigit (token[i]))
            return FALSE;
    gsize id_len = strlen (id);
    if (!id_len || id_len > BL_E2B_LIST_MAX_ID)
        return FALSE;
    for (gsize i = 0; i < id_len; i++)
        if (!id_char (id[i]))
            return FALSE;
    memcpy (number, token, digits);
    number[digits] = '\0';
    if (!g_ascii_string_to_unsigned (number, 10, 0, G_MAXINT64, &us, NULL))
        return FALSE;
    q->after = TRUE;
    q->after_us = (gint64) us;
    memcpy (q->after_id, id, id_len + 1);
    return TRUE;
}

/* The states of a comma-separated list ("running,paused", as the SDK joins
 * an array); FALSE for a name we do not know. */
static gboolean
states_parse (const char *state, guint *states)
{
    g_auto (GStrv) names = g_strsplit (state, ",", 8);

    *states = 0;
    for (guint i = 0; names[i]; i++) {
        if (g_str_equal (names[i], "running"))
            *states |= BL_E2B_LIST_RUNNING;
        else if (g_str_equal (names[i], "paused"))
            *states |= BL_E2B_LIST_PAUSED;
        else
            return FALSE;
    }
    return *states != 0;
}

const char *
bl_e2b_list_query_parse (const char *state, const char *limit, const char *token, const char *order,
                         BlE2bListQuery *q)
{
    memset (q, 0, sizeof *q);
    q->states = BL_E2B_LIST_RUNNING | BL_E2B_LIST_PAUSED;
    q->limit = BL_E2B_LIST_MAX_LIMIT;
    if (state && *state &&
        (strlen (state) > BL_E2B_LIST_MAX_STATE || !states_parse (state, &q->states)))
        return "state must be running, paused or both, comma-separated";
    if (limit) {
        guint64 n;
        if (!g_ascii_string_to_unsigned (limit, 10, 1, BL_E2B_LIST_MAX_LIMIT, &n, NULL))
            return "limit must be a whole number from 1 to " G_STRINGIFY (BL_E2B_LIST_MAX_LIMIT);
        q->limit = (guint) n;
    }
    if (order && !g_str_equal (order, "desc")) {
        if (!g_str_equal (order, "asc"))
            return "order must be asc or desc";
        q->ascending = TRUE;
    }
    if (token && (strlen (token) > BL_E2B_LIST_MAX_TOKEN || !token_parse (token, q)))
        return "nextToken is not a token this server handed out";
    return NULL;
}

char *
bl_e2b_list_token (gint64 started_us, const char *id)
{
    return g_strdup_printf ("%" G_GINT64_FORMAT ".%s", started_us, id);
}

gint
bl_e2b_list_compare (const BlE2bListQuery *q, gint64 a_us, const char *a_id, gint64 b_us,
                     const char *b_id)
{
    gint c = a_us != b_us ? (a_us > b_us ? -1 : 1) : -strcmp (a_id, b_id);

    /* Newest first, unless asked otherwise. */
    c = c < 0 ? -1 : c > 0;
    return q->ascending ? -c : c;
}

gboolean
bl_e2b_list_wants (const BlE2bListQuery *q, gint64 started_us, const char *id)
{
    return !q->after || bl_e2b_list_compare (q, q->after_us, q->after_id, started_us, id) < 0;
}
