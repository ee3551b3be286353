/* template.c: keys, paths and checks of VM templates (template.h). */
#define G_LOG_DOMAIN "boxlite"

#include "template.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <glib/gstdio.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <boxlite/boxlite-error.h>
#include "box-record.h"
#include "fs-lock.h"
#include "fs-private.h"
#include "fs-tree.h"
#include "json-file.h"
#include "file-identity.h"
#include "os-error.h"

#define TEMPLATE_LAYOUT 1
#define SHM_DIR "/dev/shm"
#define RECORD_MAX (64 * 1024)
/* QEMU's migration stream starts with "QEVM". */
#define STATE_MAGIC "QEVM"

void
bl_template_free (BlTemplate *tpl)
{
    if (!tpl)
        return;
    g_free (tpl->key);
    g_free (tpl->inputs);
    g_free (tpl->dir);
    g_free (tpl->lock_path);
    g_free (tpl->state_path);
    g_free (tpl->record_path);
    g_free (tpl->ram_path);
    g_free (tpl);
}

void
bl_template_info_free (BlTemplateInfo *info)
{
    if (!info)
        return;
    g_free (info->key);
    g_free (info->inputs);
    g_free (info->ram_path);
    g_free (info);
}

/* A file's identity: a new build or a new package is a new inode, size or
 * time, without reading megabytes on every start. */
static gboolean
add_file (GString *s, const char *what, const char *path, GError **error)
{
    struct stat st;

    if (stat (path, &st) < 0)
        return bl_os_error (error, errno, "stat", path);
    g_autofree char *identity = bl_file_identity (&st);
    g_string_append_printf (s, "%s=%s %s\n", what, path, identity);
    return TRUE;
}

static char *
sha256_hex (const char *text, gssize len)
{
    return g_compute_checksum_for_string (G_CHECKSUM_SHA256, text, len);
}

/* Where this home's RAM files go on tmpfs, or NULL when /dev/shm is not a
 * tmpfs (they then stay in each template's directory). */
static char *
ram_dir_path (const char *templates_dir)
{
    struct statfs fs;

    if (statfs (SHM_DIR, &fs) < 0 || fs.f_type != TMPFS_MAGIC)
        return NULL;
    g_autofree char *hash = sha256_hex (templates_dir, -1);
    g_autofree char *name = g_strdup_printf ("boxlite-%u-%.16s", (unsigned) geteuid (), hash);
    return g_build_filename (SHM_DIR, name, NULL);
}

/* The directory of this home's RAM files, ours alone (made when missing),
 * or NULL without an error when there is no tmpfs. */
static char *
ram_dir (const char *templates_dir, GError **error)
{
    g_autofree char *dir = ram_dir_path (templates_dir);
    if (!dir)
        return NULL;
    g_autofree char *home = g_build_filename (dir, "home", NULL);

    if (!bl_private_dir_ensure (dir, error)) {
        g_prefix_error (error, "template RAM directory: ");
        return NULL;
    }
    if (!g_file_test (home, G_FILE_TEST_EXISTS) &&
        !g_file_set_contents_full (home, templates_dir, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                   error))
        return NULL;
    return g_steal_pointer (&dir);
}

BlTemplate *
bl_template_for (const BlLaunch *launch, BoxliteAccel resolved, guint tsc_khz, GError **error)
{
    g_autoptr (GString) s = g_string_new (NULL);
    g_autoptr (BlTemplate) tpl = g_new0 (BlTemplate, 1);
    guint volumes = launch->volumes ? g_strv_length (launch->volumes) : 0;

    g_return_val_if_fail (launch->templates_dir != NULL, NULL);
    g_string_append_printf (s, "layout=%d\n", TEMPLATE_LAYOUT);
    if (!add_file (s, "qemu", launch->qemu, error) ||
        !add_file (s, "kernel", launch->kernel, error) ||
        !add_file (s, "initrd", launch->initrd, error))
        return NULL;
    g_string_append_printf (s, "accel=%s\ncpu=%s\ncpus=%u\nmemory_mib=%u\ntsc_khz=%u\n",
                            resolved == BOXLITE_ACCEL_KVM ? "kvm" : "tcg",
                            resolved == BOXLITE_ACCEL_KVM ? "host,-arch-capabilities" : "max",
                            launch->cpus, launch->memory_mib, tsc_khz);
    g_string_append_printf (s, "nic=%d\nvolumes=%u\n", launch->network == BOXLITE_NETWORK_ENABLED,
                            volumes);

    tpl->inputs = g_strdup (s->str);
    tpl->key = sha256_hex (s->str, (gssize) s->len);
    tpl->dir = g_build_filename (launch->templates_dir, tpl->key, NULL);
    tpl->lock_path = g_strconcat (tpl->dir, ".lock", NULL);
    tpl->state_path = g_build_filename (tpl->dir, "vmstate", NULL);
    tpl->record_path = g_build_filename (tpl->dir, "template.json", NULL);
    tpl->ram_bytes = (guint64) launch->memory_mib << 20;
    if (!bl_private_dir_ensure (launch->templates_dir, error))
        return NULL;
    GError *local = NULL;
    g_autofree char *shm = ram_dir (launch->templates_dir, &local);
    if (local) {
        g_propagate_error (error, local);
        return NULL;
    }
    g_autofree char *ram_name = g_strconcat (tpl->key, ".ram", NULL);
    tpl->ram_path =
        shm ? g_build_filename (shm, ram_name, NULL) : g_build_filename (tpl->dir, "ram", NULL);
    return g_steal_pointer (&tpl);
}

static gboolean invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
    va_list args;

    va_start (args, format);
    g_autofree char *message = g_strdup_vprintf (format, args);
    va_end (args);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "template: %s", message);
    return FALSE;
}

static JsonObject *
load_record (JsonParser *parser, const char *path, GError **error)
{
    g_autofree char *text = NULL;
    gsize len = 0;

    if (!g_file_get_contents (path, &text, &len, error))
        return NULL;
    JsonObject *obj = len <= RECORD_MAX ? bl_json_load_object (parser, text, len) : NULL;
    if (!obj)
        invalid (error, "%s is not a template record", path);
    return obj;
}

/* The RAM file QEMU will map: a regular file of ours, private, of exactly
 * the guest's memory size. */
static gboolean
check_ram (const BlTemplate *tpl, GError **error)
{
    struct stat st;
    int fd = open (tpl->ram_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0)
        return errno == ENOENT ? invalid (error, "%s is missing", tpl->ram_path)
                               : bl_os_error (error, errno, "open", tpl->ram_path);
    int rc = fstat (fd, &st);
    close (fd);
    if (rc < 0 || !S_ISREG (st.st_mode) || st.st_uid != geteuid () || (st.st_mode & 077))
        return invalid (error, "%s is not a private file of ours", tpl->ram_path);
    if ((guint64) st.st_size != tpl->ram_bytes)
        return invalid (error, "%s holds %jd bytes, not %" G_GUINT64_FORMAT, tpl->ram_path,
                        (intmax_t) st.st_size, tpl->ram_bytes);
    return TRUE;
}

/* Reads the whole state from @fd (already checked to be @size bytes) and
 * compares its checksum and magic. */
static gboolean
check_state (int fd, gsize size, const char *want_sha, const char *path, GError **error)
{
    g_autofree guint8 *data = g_malloc (size ? size : 1);
    gsize got = 0;

    while (got < size) {
        ssize_t n = pread (fd, data + got, size - got, (off_t) got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bl_os_error (error, errno, "read", path);
        if (n == 0)
            return invalid (error, "%s ends early", path);
        got += (gsize) n;
    }
    if (size < 4 || memcmp (data, STATE_MAGIC, 4) != 0)
        return invalid (error, "%s is not a QEMU state", path);
    g_autofree char *sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, size);
    if (g_strcmp0 (sha, want_sha) != 0)
        return invalid (error, "%s does not match its recorded checksum", path);
    return TRUE;
}

int
bl_template_open_state (const BlTemplate *tpl, GError **error)
{
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();
    struct stat st;

    if (!g_file_test (tpl->record_path, G_FILE_TEST_EXISTS)) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no template yet");
        return -1;
    }
    JsonObject *rec = load_record (parser, tpl->record_path, error);
    if (!rec)
        return -1;
    JsonNode *state_bytes = json_object_get_member (rec, "state_bytes");
    JsonNode *ram_bytes = json_object_get_member (rec, "ram_bytes");
    const char *sha = bl_json_member_string (rec, "state_sha256");
    if (g_strcmp0 (bl_json_member_string (rec, "key"), tpl->key) != 0 ||
        g_strcmp0 (bl_json_member_string (rec, "inputs"), tpl->inputs) != 0 ||
        g_strcmp0 (bl_json_member_string (rec, "ram_path"), tpl->ram_path) != 0 || !sha ||
        !state_bytes || json_node_get_value_type (state_bytes) != G_TYPE_INT64 || !ram_bytes ||
        json_node_get_value_type (ram_bytes) != G_TYPE_INT64 ||
        (guint64) json_node_get_int (ram_bytes) != tpl->ram_bytes) {
        invalid (error, "%s does not describe this template", tpl->record_path);
        return -1;
    }
    gint64 size = json_node_get_int (state_bytes);
    if (size < 4 || size > BL_TEMPLATE_MAX_STATE) {
        invalid (error, "a state of %" G_GINT64_FORMAT " bytes", size);
        return -1;
    }
    if (!check_ram (tpl, error))
        return -1;
    int fd = open (tpl->state_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        bl_os_error (error, errno, "open", tpl->state_path);
        return -1;
    }
    if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size != size) {
        close (fd);
        invalid (error, "%s is not the %" G_GINT64_FORMAT " bytes recorded", tpl->state_path, size);
        return -1;
    }
    if (!check_state (fd, (gsize) size, sha, tpl->state_path, error)) {
        close (fd);
        return -1;
    }
    return fd;
}

gboolean
bl_template_record (const BlTemplate *tpl, GError **error)
{
    g_autofree char *data = NULL;
    gsize len = 0;

    if (!g_file_get_contents (tpl->state_path, &data, &len, error))
        return FALSE;
    if (len < 4 || len > BL_TEMPLATE_MAX_STATE || memcmp (data, STATE_MAGIC, 4) != 0)
        return invalid (error, "QEMU saved a state of %zu bytes that is not one", len);
    g_autofree char *sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (guint8 *) data, len);
    g_autoptr (JsonBuilder) b = json_builder_new ();
    g_autofree char *now = bl_now_iso8601 ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "key");
    json_builder_add_string_value (b, tpl->key);
    json_builder_set_member_name (b, "inputs");
    json_builder_add_string_value (b, tpl->inputs);
    json_builder_set_member_name (b, "ram_path");
    json_builder_add_string_value (b, tpl->ram_path);
    json_builder_set_member_name (b, "ram_bytes");
    json_builder_add_int_value (b, (gint64) tpl->ram_bytes);
    json_builder_set_member_name (b, "state_bytes");
    json_builder_add_int_value (b, (gint64) len);
    json_builder_set_member_name (b, "state_sha256");
    json_builder_add_string_value (b, sha);
    json_builder_set_member_name (b, "created_at");
    json_builder_add_string_value (b, now);
    json_builder_end_object (b);
    return bl_json_write_file (tpl->record_path, b, error);
}

static gboolean
unlink_missing_ok (const char *path, GError **error)
{
    if (g_unlink (path) < 0 && errno != ENOENT)
        return bl_os_error (error, errno, "remove", path);
    return TRUE;
}

gboolean
bl_template_remove (const BlTemplate *tpl, GError **error)
{
    /* The record first: a half-removed template is never taken for whole. */
    return unlink_missing_ok (tpl->record_path, error) &&
           unlink_missing_ok (tpl->ram_path, error) && bl_tree_remove (tpl->dir, error);
}

static void sweep_ram_dirs (const char *templates_dir, const char *own);

static gboolean
is_key (const char *name)
{
    if (strlen (name) != 64)
        return FALSE;
    for (const char *p = name; *p; p++)
        if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
            return FALSE;
    return TRUE;
}

/* Blocks a file takes on its file system: the pages of a RAM file the
 * template touched. */
static guint64
disk_bytes (const char *path)
{
    struct stat st;
    return lstat (path, &st) == 0 ? (guint64) st.st_blocks * 512 : 0;
}

static BlTemplateInfo *
info_load (const char *templates_dir, const char *key)
{
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();
    g_autofree char *dir = g_build_filename (templates_dir, key, NULL);
    g_autofree char *record = g_build_filename (dir, "template.json", NULL);
    g_autofree char *state = g_build_filename (dir, "vmstate", NULL);
    BlTemplateInfo *info = g_new0 (BlTemplateInfo, 1);
    JsonObject *rec = load_record (parser, record, NULL);
    struct stat st;

    info->key = g_strdup (key);
    if (rec) {
        JsonNode *ram = json_object_get_member (rec, "ram_bytes");
        info->inputs = g_strdup (bl_json_member_string (rec, "inputs"));
        info->ram_path = g_strdup (bl_json_member_string (rec, "ram_path"));
        if (ram && json_node_get_value_type (ram) == G_TYPE_INT64)
            info->ram_bytes = (guint64) json_node_get_int (ram);
    }
    if (lstat (state, &st) == 0 && S_ISREG (st.st_mode))
        info->state_bytes = (guint64) st.st_size;
    if (info->ram_path)
        info->ram_disk_bytes = disk_bytes (info->ram_path);
    info->valid = rec && info->inputs && info->ram_path && info->state_bytes > 0 &&
                  g_file_test (info->ram_path, G_FILE_TEST_IS_REGULAR);
    return info;
}

GPtrArray *
bl_template_list (const char *templates_dir, GError **error)
{
    g_autoptr (GPtrArray) list =
        g_ptr_array_new_with_free_func ((GDestroyNotify) bl_template_info_free);
    g_autoptr (GError) local = NULL;
    g_autoptr (GDir) dir = g_dir_open (templates_dir, 0, &local);
    const char *name;

    if (!dir) {
        if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return g_steal_pointer (&list);
        g_propagate_error (error, g_steal_pointer (&local));
        return NULL;
    }
    while ((name = g_dir_read_name (dir))) {
        g_autofree char *path = g_build_filename (templates_dir, name, NULL);
        if (is_key (name) && g_file_test (path, G_FILE_TEST_IS_DIR))
            g_ptr_array_add (list, info_load (templates_dir, name));
    }
    return g_steal_pointer (&list);
}

/* Removes one template under its lock. Only the two places a RAM file of
 * this key can be are removed: never a path read from its record. */
static gboolean
prune_one (const char *templates_dir, const char *ram_dir_name, const char *key, GError **error)
{
    g_autofree char *dir = g_build_filename (templates_dir, key, NULL);
    g_autofree char *lock = g_strconcat (dir, ".lock", NULL);
    g_autofree char *failed = g_strconcat (dir, ".failed", NULL);
    g_autofree char *ram_name = g_strconcat (key, ".ram", NULL);
    g_autofree char *shm_ram =
        ram_dir_name ? g_build_filename (ram_dir_name, ram_name, NULL) : NULL;
    int fd = bl_lock_file (lock, TRUE, NULL, error);

    if (fd < 0)
        return FALSE;
    g_autofree char *shm_part = shm_ram ? g_strconcat (shm_ram, ".part", NULL) : NULL;
    /* .part: what a maker that died left of the RAM file it was making. */
    gboolean ok =
        (!shm_ram || (unlink_missing_ok (shm_ram, error) && unlink_missing_ok (shm_part, error))) &&
        unlink_missing_ok (failed, error) && bl_tree_remove (dir, error);
    if (ok)
        g_unlink (lock);
    close (fd);
    return ok;
}

void
bl_template_sweep_orphans (void)
{
    sweep_ram_dirs (NULL, NULL);
}

/* The RAM directories of this user whose home is gone, and (with @own, the
 * RAM directory of @templates_dir) RAM files that no template owns. */
static void
sweep_ram_dirs (const char *templates_dir, const char *own)
{
    g_autoptr (GDir) shm = g_dir_open (SHM_DIR, 0, NULL);
    g_autofree char *prefix = g_strdup_printf ("boxlite-%u-", (unsigned) geteuid ());
    const char *name;
    g_autoptr (GError) error = NULL;

    while (shm && (name = g_dir_read_name (shm))) {
        g_autofree char *dir = g_build_filename (SHM_DIR, name, NULL);
        g_autofree char *home_file = g_build_filename (dir, "home", NULL);
        g_autofree char *home = NULL;
        struct stat st;

        if (!g_str_has_prefix (name, prefix) || lstat (dir, &st) < 0 || !S_ISDIR (st.st_mode) ||
            st.st_uid != geteuid ())
            continue;
        if (!g_file_get_contents (home_file, &home, NULL, NULL))
            continue;
        if (!g_file_test (home, G_FILE_TEST_IS_DIR)) {
            g_message ("removing %s: its home %s is gone", dir, home);
            if (!bl_tree_remove (dir, &error))
                g_warning ("%s", error->message);
            g_clear_error (&error);
            continue;
        }
        if (!own || g_strcmp0 (dir, own) != 0 || g_strcmp0 (home, templates_dir) != 0)
            continue;
        g_autoptr (GDir) rams = g_dir_open (dir, 0, NULL);
        const char *ram;
        while (rams && (ram = g_dir_read_name (rams))) {
            g_autofree char *key = g_strndup (ram, strlen (ram) - MIN (strlen (ram), 4));
            g_autofree char *tdir = g_build_filename (templates_dir, key, NULL);
            g_autofree char *path = g_build_filename (dir, ram, NULL);
            if (g_str_has_suffix (ram, ".ram") && is_key (key) &&
                !g_file_test (tdir, G_FILE_TEST_IS_DIR))
                g_unlink (path);
        }
    }
}

/* What no template owns any more: the memory of a failure, a lock whose
 * template is gone, and the work directory of a maker that died an hour
 * or more ago. */
static void
sweep_leftovers (const char *templates_dir)
{
    g_autoptr (GDir) dir = g_dir_open (templates_dir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name (dir))) {
        g_autofree char *path = g_build_filename (templates_dir, name, NULL);
        g_autofree char *key = g_strndup (name, 64);
        g_autofree char *key_dir = g_build_filename (templates_dir, key, NULL);
        struct stat st;

        if (lstat (path, &st) < 0)
            continue;
        if (S_ISREG (st.st_mode) && is_key (key) && !g_file_test (key_dir, G_FILE_TEST_EXISTS) &&
            (g_str_equal (name + 64, ".failed") || g_str_equal (name + 64, ".lock")))
            g_unlink (path);
        else if (S_ISDIR (st.st_mode) && g_str_has_prefix (name, "mk-") &&
                 time (NULL) - st.st_mtime > 3600)
            bl_tree_remove (path, NULL);
    }
}

gboolean
bl_template_prune (const char *templates_dir, guint *removed, GError **error)
{
    g_autoptr (GPtrArray) list = bl_template_list (templates_dir, error);
    g_autofree char *shm = ram_dir_path (templates_dir);

    *removed = 0;
    if (!list)
        return FALSE;
    for (guint i = 0; i < list->len; i++) {
        BlTemplateInfo *info = g_ptr_array_index (list, i);
        if (!prune_one (templates_dir, shm, info->key, error))
            return FALSE;
        (*removed)++;
    }
    sweep_leftovers (templates_dir);
    sweep_ram_dirs (templates_dir, shm);
    return TRUE;
}
