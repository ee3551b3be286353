/* bl-qmp-message.h: one QMP line in, one QMP command line out.
 *
 * Everything QEMU writes is treated as untrusted: a line is checked for
 * size, UTF-8 and nesting depth before json-glib sees it, and every member
 * the client relies on is type-checked here, so the client only ever deals
 * with well-formed messages. Internal to qmp/.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The longest line (without its newline) accepted from QEMU, in bytes. */
#define BL_QMP_MAX_LINE_LENGTH (1024 * 1024)

/* The deepest nesting of arrays and objects accepted from QEMU. */
#define BL_QMP_MAX_DEPTH 64

typedef enum {
    BL_QMP_MESSAGE_GREETING, /* {"QMP": {"version": {...}, "capabilities": [...]}} */
    BL_QMP_MESSAGE_RETURN,   /* {"return": ..., "id": ...} */
    BL_QMP_MESSAGE_ERROR,    /* {"error": {"class": ..., "desc": ...}, "id": ...} */
    BL_QMP_MESSAGE_EVENT,    /* {"event": ..., "data": {...}, "timestamp": {...}} */
    BL_QMP_MESSAGE_UNKNOWN,  /* a JSON object of none of those shapes */
} BlQmpMessageKind;

/* A parsed line. Pointers are borrowed from @root and live as long as the
 * message. */
typedef struct {
    BlQmpMessageKind kind;
    JsonNode *root;

    /* GREETING: "major.minor.micro" of QEMU */
    char *version;

    /* RETURN and ERROR: the id we sent, if the reply carries an integer id */
    gboolean has_id;
    gint64 id;
    JsonNode *value;         /* RETURN: the "return" member */
    const char *error_class; /* ERROR */
    const char *error_desc;  /* ERROR */

    /* EVENT */
    const char *event;
    JsonObject *data;      /* never NULL: an empty object when QEMU sent none */
    gint64 timestamp_usec; /* -1 when QEMU sent no usable timestamp */
} BlQmpMessage;

/* Parses one line (@len bytes, no newline; need not be NUL-terminated).
 * Returns a new message, or NULL with @error set (BL_QMP_ERROR_PROTOCOL)
 * when the line is too long, not UTF-8, nested too deep, not a JSON object,
 * or a greeting/reply/event with members of the wrong type. */
BlQmpMessage *bl_qmp_message_parse (const char *line, gsize len, GError **error);
void bl_qmp_message_free (BlQmpMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlQmpMessage, bl_qmp_message_free)

/* Serialises {"execute": @command, "arguments": @arguments, "id": @id}
 * followed by a newline. @arguments may be NULL and is not modified. */
GBytes *bl_qmp_message_build_command (const char *command, JsonObject *arguments, gint64 id);

G_END_DECLS
