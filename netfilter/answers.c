/* answers.c: remembered DNS answers, keyed by address. */
#include "answers.h"

typedef struct {
    char *name;
    gint64 expires_us; /* monotonic */
} Answer;

struct _BlNetAnswers {
    GHashTable *by_addr; /* GUINT_TO_POINTER (addr) -> Answer* */
    guint max;
};

static void
answer_free (gpointer data)
{
    Answer *a = data;

    g_free (a->name);
    g_free (a);
}

BlNetAnswers *
bl_net_answers_new (guint max)
{
    BlNetAnswers *answers = g_new0 (BlNetAnswers, 1);

    answers->by_addr = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, answer_free);
    answers->max = MAX (max, 1);
    return answers;
}

static gboolean
expired (gpointer key, gpointer value, gpointer user_data)
{
    const Answer *a = value;

    return a->expires_us <= *(const gint64 *) user_data;
}

gboolean
bl_net_answers_remember (BlNetAnswers *answers, uint32_t addr, const char *name, guint ttl_s)
{
    gint64 now = g_get_monotonic_time ();
    gint64 until = now + (gint64) ttl_s * G_USEC_PER_SEC;
    Answer *a = g_hash_table_lookup (answers->by_addr, GUINT_TO_POINTER (addr));

    if (a) {
        if (g_strcmp0 (a->name, name) != 0) {
            g_free (a->name);
            a->name = g_strdup (name);
        }
        a->expires_us = MAX (a->expires_us, until);
        return TRUE;
    }
    if (g_hash_table_size (answers->by_addr) >= answers->max)
        g_hash_table_foreach_remove (answers->by_addr, expired, &now);
    if (g_hash_table_size (answers->by_addr) >= answers->max)
        return FALSE;
    a = g_new0 (Answer, 1);
    a->name = g_strdup (name);
    a->expires_us = until;
    g_hash_table_insert (answers->by_addr, GUINT_TO_POINTER (addr), a);
    return TRUE;
}

const char *
bl_net_answers_lookup (BlNetAnswers *answers, uint32_t addr)
{
    const Answer *a = g_hash_table_lookup (answers->by_addr, GUINT_TO_POINTER (addr));

    if (!a || a->expires_us <= g_get_monotonic_time ())
        return NULL;
    return a->name;
}

void
bl_net_answers_free (BlNetAnswers *answers)
{
    if (!answers)
        return;
    g_hash_table_unref (answers->by_addr);
    g_free (answers);
}
