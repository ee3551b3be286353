/* answers.h: the addresses this box's allowed names resolved to.
 *
 * The DNS answerer remembers every IPv4 address it hands the guest for an
 * allowed name, for as long as the answer's TTL says the guest may use it;
 * the egress filter lets a flow through to such an address only. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct _BlNetAnswers BlNetAnswers;

/* A table of at most @max addresses. */
BlNetAnswers *bl_net_answers_new (guint max);

/* Remembers that @name (copied) resolved to @addr (IPv4, host order) for
 * @ttl_s seconds from now; a later answer for the same address replaces the
 * name and extends the time. When the table is full and nothing in it has
 * expired, the address is not remembered and FALSE is returned. */
gboolean bl_net_answers_remember (BlNetAnswers *answers, uint32_t addr, const char *name,
                                  guint ttl_s);

/* The name @addr (IPv4, host order) was last given out for, if that answer
 * has not expired; NULL otherwise. Owned by the table, valid until the next
 * call that changes it. */
const char *bl_net_answers_lookup (BlNetAnswers *answers, uint32_t addr);

void bl_net_answers_free (BlNetAnswers *answers);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlNetAnswers, bl_net_answers_free)

G_END_DECLS
