/* e2b-envd.c: the in-box API E2B's SDKs call, routed by the E2b-Sandbox-Id
 * header to a box: envd's filesystem service over Connect-RPC with the JSON
 * codec, GET and POST /files, GET /health (the process service is in
 * e2b-process.c).
 *
 * The filesystem calls run coreutils and GNU find in the box with the path
 * as an argument of its own (no shell), and read find's NUL-separated
 * records back as hostile input. */
#define G_LOG_DOMAIN "boxlite-serve"

#include <string.h>

#include "e2b.h"

#define FIND_FORMAT "%y\\0%s\\0%m\\0%M\\0%u\\0%g\\0%T@\\0%p\\0%l\\0"
/* Entries of one ListDir answer. */
#define MAX_DEPTH 64
/* Files of one upload: each costs a command in the box. */
#define MAX_UPLOAD_FILES 1000
#define MAX_PATH 4096
/* Output in one data event. */
#define DATA_CHUNK 65536

/* The box an envd call is for, or NULL with an error answered. Files are
 * read and written as root: a call made for another user (the SDK's
 * `user`, sent as Basic authorization, or as /files' username) is refused
 * rather than done as root behind its back. */
static BoxliteBox *
call_box (BlServeCall *call)
{
    g_autofree char *user = NULL;
    const char *why = bl_e2b_basic_user (call->args[1], &user);
    const char *name = bl_serve_query (call, "username");

    if (why) {
        bl_e2b_connect_reply_error (call, "invalid_argument", "%s", why);
        return NULL;
    }
    if (!name)
        name = user;
    if (name && !g_str_equal (name, "root")) {
        bl_e2b_connect_reply_error (call, "unimplemented",
                                    "files are read and written as root here, not as another user");
        return NULL;
    }
    return bl_e2b_sandbox_box (call, call->args[0]);
}

static void
in_thread (BlServeCall *call, BlServeHandler func)
{
    if (bl_e2b_take_sandbox_id (call))
        bl_serve_call_run_in_thread (call, func);
}

/* A path as envd takes it: absolute, or relative to the home of the box's
 * user (root). NULL with invalid_argument answered when unusable. */
static char *
box_path (BlServeCall *call, const char *path)
{
    if (!path || !*path || strlen (path) > MAX_PATH || !g_utf8_validate (path, -1, NULL)) {
        bl_e2b_connect_reply_error (call, "invalid_argument",
                                    "a path is required (at most %d bytes of UTF-8)", MAX_PATH);
        return NULL;
    }
    g_autofree char *joined =
        path[0] == '/' ? g_strdup (path) : g_build_filename ("/root", path, NULL);
    return g_canonicalize_filename (joined, "/");
}

/* A string member, NULL when absent; FALSE with an error answered when it
 * is there but not a string. */
static gboolean
member_string (BlServeCall *call, JsonObject *object, const char *name, const char **value)
{
    JsonNode *node = json_object_get_member (object, name);

    *value = NULL;
    if (!node || JSON_NODE_HOLDS_NULL (node))
        return TRUE;
    if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING) {
        bl_e2b_connect_reply_error (call, "invalid_argument", "%s must be a string", name);
        return FALSE;
    }
    *value = json_node_get_string (node);
    return TRUE;
}

/* Runs @argv in @box for the filesystem calls; NULL with an error
 * answered. */
static BlE2bRun *
run_argv (BlServeCall *call, BoxliteBox *box, const char *const *argv)
{
    g_autoptr (BoxliteCommand) command = boxlite_command_new (argv);
    g_autoptr (GError) error = NULL;
    BlE2bRun *run = bl_e2b_run (box, command, &error);

    if (!run)
        bl_e2b_connect_reply_error (call, bl_e2b_connect_code (error), "%s", error->message);
    return run;
}

static const char *
file_type (char y)
{
    switch (y) {
    case 'f':
        return "FILE_TYPE_FILE";
    case 'd':
        return "FILE_TYPE_DIRECTORY";
    case 'l':
        return "FILE_TYPE_SYMLINK";
    default:
        return "FILE_TYPE_UNSPECIFIED";
    }
}

/* One find record as an EntryInfo, or FALSE when the guest's output does
 * not have the shape asked for. */
static gboolean
add_entry (JsonBuilder *b, char **f)
{
    char *end;
    guint64 size = g_ascii_strtoull (f[1], &end, 10);
    if (!*f[1] || *end)
        return FALSE;
    guint64 mode = g_ascii_strtoull (f[2], &end, 8);
    if (!*f[2] || *end || mode > 07777)
        return FALSE;
    gdouble mtime = g_ascii_strtod (f[6], &end);
    if (!*f[6] || *end || mtime < 0 || mtime > 1e11)
        return FALSE;
    if (strlen (f[0]) != 1 || f[7][0] != '/' || !g_utf8_validate (f[7], -1, NULL) ||
        !g_utf8_validate (f[3], -1, NULL) || !g_utf8_validate (f[4], -1, NULL) ||
        !g_utf8_validate (f[5], -1, NULL) || !g_utf8_validate (f[8], -1, NULL))
        return FALSE;
    g_autofree char *name = g_path_get_basename (f[7]);
    g_autoptr (GDateTime) t = bl_e2b_time_from_us ((gint64) (mtime * G_USEC_PER_SEC));
    g_autofree char *modified = t ? g_date_time_format_iso8601 (t) : NULL;

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, name);
    json_builder_set_member_name (b, "type");
    json_builder_add_string_value (b, file_type (f[0][0]));
    json_builder_set_member_name (b, "path");
    json_builder_add_string_value (b, f[7]);
    json_builder_set_member_name (b, "size");
    json_builder_add_int_value (b, (gint64) MIN (size, (guint64) G_MAXINT64));
    json_builder_set_member_name (b, "mode");
    json_builder_add_int_value (b, (gint64) mode);
    json_builder_set_member_name (b, "permissions");
    json_builder_add_string_value (b, f[3]);
    json_builder_set_member_name (b, "owner");
    json_builder_add_string_value (b, f[4]);
    json_builder_set_member_name (b, "group");
    json_builder_add_string_value (b, f[5]);
    if (modified) {
        json_builder_set_member_name (b, "modifiedTime");
        json_builder_add_string_value (b, modified);
    }
    if (f[0][0] == 'l') {
        json_builder_set_member_name (b, "symlinkTarget");
        json_builder_add_string_value (b, f[8]);
    }
    json_builder_end_object (b);
    return TRUE;
}

gboolean
bl_e2b_entries_parse (const guint8 *data, gsize len, gboolean want_dir, JsonBuilder *b,
                      const char **why)
{
    const char *p = (const char *) data, *end = p + len;
    guint n = 0;

    while (p < end) {
        char *f[BL_E2B_FIND_FIELDS];
        for (guint i = 0; i < BL_E2B_FIND_FIELDS; i++) {
            const char *nul = memchr (p, '\0', (gsize) (end - p));
            if (!nul) {
                *why = "the box's listing is malformed";
                return FALSE;
            }
            f[i] = (char *) p;
            p = nul + 1;
        }
        if (n == 0 && want_dir) {
            /* find names the starting point first. */
            if (f[0][0] != 'd' || f[0][1]) {
                *why = "not a directory";
                return FALSE;
            }
        } else if (n > BL_E2B_MAX_ENTRIES) {
            *why = "too many entries";
            return FALSE;
        } else if (!add_entry (b, f)) {
            *why = "the box's listing is malformed";
            return FALSE;
        }
        n++;
    }
    if (n == 0) {
        *why = "the box's listing is empty";
        return FALSE;
    }
    return TRUE;
}

/* Runs find on @path down to @depth and adds the entries under it (or
 * @path itself when @depth is 0) to @b. FALSE with an error answered; a
 * path that is not there is not_found, one that is not a directory when
 * @depth > 0 invalid_argument. */
static gboolean
find_entries (BlServeCall *call, BoxliteBox *box, const char *path, guint depth, JsonBuilder *b)
{
    g_autofree char *max = g_strdup_printf ("%u", depth);
    const char *argv[] = { "find", path, "-maxdepth", max, "-printf", FIND_FORMAT, NULL };
    g_autoptr (BlE2bRun) run = run_argv (call, box, argv);

    if (!run)
        return FALSE;
    if (run->out->len >= BL_E2B_MAX_OUTPUT) {
        bl_e2b_connect_reply_error (call, "resource_exhausted", "the listing of %s is too large",
                                    path);
        return FALSE;
    }
    if (run->out->len == 0) {
        bl_e2b_connect_reply_error (call, run->exit_code ? "not_found" : "internal",
                                    "%s: no such file or directory", path);
        return FALSE;
    }
    const char *why = NULL;
    if (!bl_e2b_entries_parse (run->out->data, run->out->len, depth > 0, b, &why)) {
        bl_e2b_connect_reply_error (
            call, g_str_has_suffix (why, "not a directory") ? "invalid_argument" : "internal",
            "%s: %s", path, why);
        return FALSE;
    }
    return TRUE;
}

/* Answers {"entry": EntryInfo} for @path. */
static void
reply_entry (BlServeCall *call, BoxliteBox *box, const char *path)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "entry");
    if (!find_entries (call, box, path, 0, b))
        return;
    json_builder_end_object (b);
    bl_serve_reply_builder (call, SOUP_STATUS_OK, b);
}

/* The box and the "path" of a filesystem call; FALSE with an error
 * answered. */
static gboolean
fs_request (BlServeCall *call, JsonParser *parser, JsonObject **req, BoxliteBox **box,
            const char *member, char **path)
{
    const char *raw;

    if (!(*req = bl_e2b_unary_request (call, parser)) ||
        !member_string (call, *req, member, &raw) || !(*path = box_path (call, raw)))
        return FALSE;
    return (*box = call_box (call)) != NULL;
}

static void
fs_stat (BlServeCall *call)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (BoxliteBox) box = NULL;
    g_autofree char *path = NULL;
    JsonObject *req;

    if (fs_request (call, parser, &req, &box, "path", &path))
        reply_entry (call, box, path);
}

static void
fs_list_dir (BlServeCall *call)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (BoxliteBox) box = NULL;
    g_autofree char *path = NULL;
    g_autoptr (JsonBuilder) b = json_builder_new ();
    JsonObject *req;

    if (!fs_request (call, parser, &req, &box, "path", &path))
        return;
    JsonNode *d = json_object_get_member (req, "depth");
    gint64 depth = 1;
    if (d && !JSON_NODE_HOLDS_NULL (d)) {
        if (!JSON_NODE_HOLDS_VALUE (d) || json_node_get_value_type (d) != G_TYPE_INT64) {
            bl_e2b_connect_reply_error (call, "invalid_argument", "depth must be a number");
            return;
        }
        depth = MAX (json_node_get_int (d), 1);
    }
    if (depth > MAX_DEPTH) {
        bl_e2b_connect_reply_error (call, "invalid_argument", "depth is at most %d", MAX_DEPTH);
        return;
    }
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "entries");
    json_builder_begin_array (b);
    if (!find_entries (call, box, path, (guint) depth, b))
        return;
    json_builder_end_array (b);
    json_builder_end_object (b);
    bl_serve_reply_builder (call, SOUP_STATUS_OK, b);
}

/* Whether @path is there, by find; FALSE with an error answered when that
 * cannot be told. */
static gboolean
path_exists (BlServeCall *call, BoxliteBox *box, const char *path, gboolean *exists)
{
    const char *argv[] = { "find", path, "-maxdepth", "0", "-printf", "x", NULL };
    g_autoptr (BlE2bRun) run = run_argv (call, box, argv);

    if (!run)
        return FALSE;
    *exists = run->out->len > 0;
    return TRUE;
}

/* Runs a coreutils command; FALSE with its stderr as the error when it
 * fails. */
static gboolean
run_tool (BlServeCall *call, BoxliteBox *box, const char *const *argv)
{
    g_autoptr (BlE2bRun) run = run_argv (call, box, argv);

    if (!run)
        return FALSE;
    if (run->exit_code != 0) {
        g_autofree char *text =
            g_utf8_make_valid ((const char *) run->err->data, (gssize) MIN (run->err->len, 1024u));
        bl_e2b_connect_reply_error (call, "invalid_argument", "%s failed: %s", argv[0],
                                    g_strstrip (text));
        return FALSE;
    }
    return TRUE;
}

/* fs_request() for a path that must be there (@want) or not: FALSE with
 * not_found or already_exists answered otherwise. */
static gboolean
fs_request_existing (BlServeCall *call, JsonParser *parser, JsonObject **req, BoxliteBox **box,
                     const char *member, char **path, gboolean want)
{
    gboolean exists;

    if (!fs_request (call, parser, req, box, member, path) ||
        !path_exists (call, *box, *path, &exists))
        return FALSE;
    if (exists != want)
        bl_e2b_connect_reply_error (call, exists ? "already_exists" : "not_found",
                                    exists ? "%s already exists" : "%s: no such file or directory",
                                    *path);
    return exists == want;
}

static void
fs_make_dir (BlServeCall *call)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (BoxliteBox) box = NULL;
    g_autofree char *path = NULL;
    JsonObject *req;

    if (!fs_request_existing (call, parser, &req, &box, "path", &path, FALSE))
        return;
    const char *argv[] = { "mkdir", "-p", "--", path, NULL };
    if (run_tool (call, box, argv))
        reply_entry (call, box, path);
}

static void
fs_move (BlServeCall *call)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (BoxliteBox) box = NULL;
    g_autofree char *source = NULL, *destination = NULL;
    const char *raw;
    JsonObject *req;

    if (!fs_request_existing (call, parser, &req, &box, "source", &source, TRUE) ||
        !member_string (call, req, "destination", &raw) || !(destination = box_path (call, raw)))
        return;
    const char *argv[] = { "mv", "-T", "--", source, destination, NULL };
    if (run_tool (call, box, argv))
        reply_entry (call, box, destination);
}

static void
fs_remove (BlServeCall *call)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (BoxliteBox) box = NULL;
    g_autofree char *path = NULL;
    JsonObject *req;

    if (!fs_request_existing (call, parser, &req, &box, "path", &path, TRUE))
        return;
    const char *argv[] = { "rm", "-rf", "--", path, NULL };
    if (run_tool (call, box, argv))
        bl_serve_reply_json (call, SOUP_STATUS_OK,
                             json_node_init_object (json_node_alloc (), json_object_new ()));
}

static void
get_file (BlServeCall *call)
{
    g_autofree char *path = NULL;
    g_autoptr (BoxliteBox) box = NULL;
    g_autoptr (GError) error = NULL;

    if (!(path = box_path (call, bl_serve_query (call, "path"))) || !(box = call_box (call)))
        return;
    g_autoptr (GBytes) bytes =
        boxlite_box_read_file (box, path, BL_SERVE_MAX_FILE_BYTES, NULL, &error);
    if (!bytes) {
        const char *code = bl_e2b_connect_code (error);
        bl_e2b_connect_reply_error (call, code, "%s", error->message);
        return;
    }
    bl_serve_reply_bytes (call, SOUP_STATUS_OK, "application/octet-stream",
                          g_steal_pointer (&bytes));
}

typedef struct {
    char *path;
    GBytes *bytes;
} Upload;

static void
upload_free (gpointer data)
{
    Upload *u = data;
    g_free (u->path);
    g_bytes_unref (u->bytes);
    g_free (u);
}

static void
post_file (BlServeCall *call)
{
    GPtrArray *uploads = call->then_data;
    g_autoptr (BoxliteBox) box = call_box (call);
    g_autoptr (JsonBuilder) b = json_builder_new ();

    if (!box)
        return;
    json_builder_begin_array (b);
    for (guint i = 0; i < uploads->len; i++) {
        Upload *u = uploads->pdata[i];
        g_autoptr (GError) error = NULL;
        g_autofree char *dir = g_path_get_dirname (u->path);
        const char *mkdir_argv[] = { "mkdir", "-p", "--", dir, NULL };
        if (!run_tool (call, box, mkdir_argv))
            return;
        if (!boxlite_box_write_file (box, u->path, u->bytes, 0644, NULL, &error)) {
            bl_e2b_connect_reply_error (call, bl_e2b_connect_code (error), "%s", error->message);
            return;
        }
        g_autofree char *name = g_path_get_basename (u->path);
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "name");
        json_builder_add_string_value (b, name);
        json_builder_set_member_name (b, "type");
        json_builder_add_string_value (b, "file");
        json_builder_set_member_name (b, "path");
        json_builder_add_string_value (b, u->path);
        json_builder_end_object (b);
    }
    json_builder_end_array (b);
    bl_serve_reply_builder (call, SOUP_STATUS_OK, b);
}

/* POST /files: the multipart body is split here, on the main context
 * where the request's headers may be read; the files are written on a
 * worker thread. Each part is a file whose path is the query's path, or
 * its own file name when the query has none. */
static void
post_file_main (BlServeCall *call)
{
    SoupMessageHeaders *headers = soup_server_message_get_request_headers (call->msg);
    g_autoptr (SoupMultipart) multipart = soup_multipart_new_from_message (headers, call->body);
    const char *query_path = bl_serve_query (call, "path");
    GPtrArray *uploads = g_ptr_array_new_with_free_func (upload_free);

    call->then_data = uploads;
    call->then_data_free = (GDestroyNotify) g_ptr_array_unref;
    /* envd 0.5.7's form: the body is the file. */
    const char *type = soup_message_headers_get_content_type (headers, NULL);
    if (type && g_ascii_strcasecmp (type, "application/octet-stream") == 0) {
        Upload *u = g_new0 (Upload, 1);
        if (!(u->path = box_path (call, query_path))) {
            g_free (u);
            return;
        }
        u->bytes = g_bytes_ref (call->body);
        g_ptr_array_add (uploads, u);
        in_thread (call, post_file);
        return;
    }
    if (!multipart) {
        bl_e2b_connect_reply_error (call, "invalid_argument",
                                    "the body must be multipart/form-data");
        return;
    }
    for (int i = 0; i < soup_multipart_get_length (multipart); i++) {
        SoupMessageHeaders *part_headers;
        GBytes *body;
        g_autoptr (GHashTable) params = NULL;
        if (!soup_multipart_get_part (multipart, i, &part_headers, &body))
            continue;
        if (uploads->len == MAX_UPLOAD_FILES) {
            bl_e2b_connect_reply_error (call, "invalid_argument", "at most %d files at once",
                                        MAX_UPLOAD_FILES);
            return;
        }
        /* libsoup's own reading of the header keeps only the file name's
         * last component; the SDK puts the whole path there. */
        const char *disposition =
            soup_message_headers_get_one (part_headers, "Content-Disposition");
        const char *semi = disposition ? strchr (disposition, ';') : NULL;
        if (semi)
            params = soup_header_parse_semi_param_list (semi + 1);
        const char *filename = params ? g_hash_table_lookup (params, "filename") : NULL;
        g_autofree char *path = box_path (call, query_path ? query_path : filename);
        if (!path)
            return;
        Upload *u = g_new0 (Upload, 1);
        u->path = g_steal_pointer (&path);
        u->bytes = g_bytes_ref (body);
        g_ptr_array_add (uploads, u);
    }
    if (uploads->len == 0) {
        bl_e2b_connect_reply_error (call, "invalid_argument", "no file in the body");
        return;
    }
    in_thread (call, post_file);
}

static void
health (BlServeCall *call)
{
    bl_serve_reply_status (call, SOUP_STATUS_NO_CONTENT);
}

#define ON_THREAD(name, func)                                                                      \
    static void name (BlServeCall *call)                                                           \
    {                                                                                              \
        in_thread (call, func);                                                                    \
    }
ON_THREAD (fs_stat_main, fs_stat)
ON_THREAD (fs_list_dir_main, fs_list_dir)
ON_THREAD (fs_make_dir_main, fs_make_dir)
ON_THREAD (fs_move_main, fs_move)
ON_THREAD (fs_remove_main, fs_remove)
ON_THREAD (get_file_main, get_file)

const BlServeRoute bl_e2b_envd_routes[] = {
    { "GET", "/health", health, BL_SERVE_ROUTE_MAIN },
    { "GET", "/files", get_file_main, BL_SERVE_ROUTE_MAIN },
    { "POST", "/files", post_file_main, BL_SERVE_ROUTE_MAIN | BL_SERVE_ROUTE_RAW },
    { "POST", "/filesystem.Filesystem/Stat", fs_stat_main, BL_SERVE_ROUTE_MAIN },
    { "POST", "/filesystem.Filesystem/MakeDir", fs_make_dir_main, BL_SERVE_ROUTE_MAIN },
    { "POST", "/filesystem.Filesystem/Move", fs_move_main, BL_SERVE_ROUTE_MAIN },
    { "POST", "/filesystem.Filesystem/ListDir", fs_list_dir_main, BL_SERVE_ROUTE_MAIN },
    { "POST", "/filesystem.Filesystem/Remove", fs_remove_main, BL_SERVE_ROUTE_MAIN },
    { "POST", "/filesystem.Filesystem/WatchDir", bl_e2b_unimplemented, BL_SERVE_ROUTE_MAIN },
    { "POST", "/filesystem.Filesystem/CreateWatcher", bl_e2b_unimplemented, BL_SERVE_ROUTE_MAIN },
    { "POST", "/filesystem.Filesystem/GetWatcherEvents", bl_e2b_unimplemented,
      BL_SERVE_ROUTE_MAIN },
    { "POST", "/filesystem.Filesystem/RemoveWatcher", bl_e2b_unimplemented, BL_SERVE_ROUTE_MAIN },
};
const guint bl_e2b_envd_n_routes = G_N_ELEMENTS (bl_e2b_envd_routes);
