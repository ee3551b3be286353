/* boxlite-command.c: a command to run in a box. */
#define G_LOG_DOMAIN "boxlite"

#include <boxlite/boxlite-command.h>

#include "bl_proto.h"
#include "set-field.h"

/**
 * BoxliteCommand:
 *
 * A command to run in a box with boxlite_box_exec(): the program and its
 * arguments, and the environment, directory, user, timeout and stdin it
 * runs with, and whether it runs on a terminal.
 *
 * Since: 0.1
 */
struct _BoxliteCommand {
    GObject parent_instance;
    GStrv argv;
    GStrv env;
    char *working_dir;
    char *root_dir;
    char *root_base_dir;
    char *user;
    guint timeout_ms;
    gboolean pipe_stdin;
    gboolean tty;
    guint tty_rows;
    guint tty_cols;
};

/* A terminal's size before anyone sets one, as a text console's. */
#define DEFAULT_TTY_ROWS 24
#define DEFAULT_TTY_COLS 80

G_DEFINE_FINAL_TYPE (BoxliteCommand, boxlite_command, G_TYPE_OBJECT)

enum {
    PROP_0,
    PROP_ARGV,
    PROP_ENV,
    PROP_WORKING_DIR,
    PROP_USER,
    PROP_TIMEOUT_MS,
    PROP_STDIN,
    PROP_TTY,
    PROP_TTY_ROWS,
    PROP_TTY_COLS,
    PROP_ROOT_DIR,
    PROP_ROOT_BASE_DIR,
    N_PROPS,
};

static GParamSpec *properties[N_PROPS];

static void
boxlite_command_finalize (GObject *object)
{
    BoxliteCommand *self = BOXLITE_COMMAND (object);

    g_strfreev (self->argv);
    g_strfreev (self->env);
    g_free (self->working_dir);
    g_free (self->root_dir);
    g_free (self->root_base_dir);
    g_free (self->user);
    G_OBJECT_CLASS (boxlite_command_parent_class)->finalize (object);
}

/* A command without a program cannot run; it is refused at construction, the
 * way boxlite_command_new() refuses it, and left with an empty argv so that
 * nothing reads NULL later. */
static void
boxlite_command_constructed (GObject *object)
{
    BoxliteCommand *self = BOXLITE_COMMAND (object);

    G_OBJECT_CLASS (boxlite_command_parent_class)->constructed (object);
    if (!self->argv || !self->argv[0]) {
        g_critical ("BoxliteCommand: argv must name a program");
        if (!self->argv)
            self->argv = g_new0 (char *, 1);
    }
}

static void
boxlite_command_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
    BoxliteCommand *self = BOXLITE_COMMAND (object);

    switch (prop_id) {
    case PROP_ARGV:
        g_value_set_boxed (value, self->argv);
        break;
    case PROP_ENV:
        g_value_set_boxed (value, self->env);
        break;
    case PROP_WORKING_DIR:
        g_value_set_string (value, self->working_dir);
        break;
    case PROP_ROOT_DIR:
        g_value_set_string (value, self->root_dir);
        break;
    case PROP_ROOT_BASE_DIR:
        g_value_set_string (value, self->root_base_dir);
        break;
    case PROP_USER:
        g_value_set_string (value, self->user);
        break;
    case PROP_TIMEOUT_MS:
        g_value_set_uint (value, self->timeout_ms);
        break;
    case PROP_STDIN:
        g_value_set_boolean (value, self->pipe_stdin);
        break;
    case PROP_TTY:
        g_value_set_boolean (value, self->tty);
        break;
    case PROP_TTY_ROWS:
        g_value_set_uint (value, self->tty_rows);
        break;
    case PROP_TTY_COLS:
        g_value_set_uint (value, self->tty_cols);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* Every write after construction goes through the public setter. */
static void
boxlite_command_set_property (GObject *object, guint prop_id, const GValue *value,
                              GParamSpec *pspec)
{
    BoxliteCommand *self = BOXLITE_COMMAND (object);

    switch (prop_id) {
    case PROP_ARGV:
        self->argv = g_value_dup_boxed (value);
        break;
    case PROP_ENV:
        boxlite_command_set_env (self, g_value_get_boxed (value));
        break;
    case PROP_WORKING_DIR:
        boxlite_command_set_working_dir (self, g_value_get_string (value));
        break;
    case PROP_ROOT_DIR:
        boxlite_command_set_root_dir (self, g_value_get_string (value));
        break;
    case PROP_ROOT_BASE_DIR:
        boxlite_command_set_root_base_dir (self, g_value_get_string (value));
        break;
    case PROP_USER:
        boxlite_command_set_user (self, g_value_get_string (value));
        break;
    case PROP_TIMEOUT_MS:
        boxlite_command_set_timeout_ms (self, g_value_get_uint (value));
        break;
    case PROP_STDIN:
        boxlite_command_set_stdin (self, g_value_get_boolean (value));
        break;
    case PROP_TTY:
        boxlite_command_set_tty (self, g_value_get_boolean (value));
        break;
    case PROP_TTY_ROWS:
        boxlite_command_set_tty_size (self, g_value_get_uint (value), self->tty_cols);
        break;
    case PROP_TTY_COLS:
        boxlite_command_set_tty_size (self, self->tty_rows, g_value_get_uint (value));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
boxlite_command_class_init (BoxliteCommandClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS (klass);
    const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

    object_class->finalize = boxlite_command_finalize;
    object_class->constructed = boxlite_command_constructed;
    object_class->get_property = boxlite_command_get_property;
    object_class->set_property = boxlite_command_set_property;

    /**
     * BoxliteCommand:argv:
     *
     * The program and its arguments; the program is looked up in the box's
     * `PATH`. Given at construction and never changed; it must name a
     * program.
     *
     * Since: 0.1
     */
    properties[PROP_ARGV] =
        g_param_spec_boxed ("argv", NULL, NULL, G_TYPE_STRV,
                            G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

    /**
     * BoxliteCommand:env:
     *
     * `KEY=VALUE` entries added to the box's environment.
     *
     * Since: 0.1
     */
    properties[PROP_ENV] = g_param_spec_boxed ("env", NULL, NULL, G_TYPE_STRV, flags);

    /**
     * BoxliteCommand:working-dir:
     *
     * The absolute path in the box where the command starts; %NULL for the
     * box's.
     *
     * Since: 0.1
     */
    properties[PROP_WORKING_DIR] = g_param_spec_string ("working-dir", NULL, NULL, NULL, flags);

    /**
     * BoxliteCommand:root-dir:
     *
     * An absolute path in the box that the command sees as `/`, with the
     * box's `/proc`, `/sys` and `/dev` mounted in it for the command alone,
     * as a container gets them; its user is looked up in that tree's
     * `/etc/passwd`. %NULL: the box's own root.
     *
     * Since: 0.2
     */
    properties[PROP_ROOT_DIR] = g_param_spec_string ("root-dir", NULL, NULL, NULL, flags);

    /**
     * BoxliteCommand:root-base-dir:
     *
     * With [property@Boxlite.Command:root-dir]: an absolute path in the box
     * (a read-only volume, say) that the root is made from, the first time
     * a command names that root: a writable layer over it, kept on the
     * box's disk beside the root, so that later commands with the same
     * root see what earlier ones wrote and the tree itself never changes.
     * Neither path may hold `:` or `,`.
     *
     * Since: 0.2
     */
    properties[PROP_ROOT_BASE_DIR] = g_param_spec_string ("root-base-dir", NULL, NULL, NULL, flags);

    /**
     * BoxliteCommand:user:
     *
     * The user the command runs as: a name, a uid or `uid:gid`; %NULL for
     * the box's.
     *
     * Since: 0.1
     */
    properties[PROP_USER] = g_param_spec_string ("user", NULL, NULL, NULL, flags);

    /**
     * BoxliteCommand:timeout-ms:
     *
     * Milliseconds after which the command and everything it started are
     * killed; 0 for never.
     *
     * Since: 0.1
     */
    properties[PROP_TIMEOUT_MS] =
        g_param_spec_uint ("timeout-ms", NULL, NULL, 0, G_MAXUINT, 0, flags);

    /**
     * BoxliteCommand:stdin:
     *
     * Whether the execution has a stdin stream; when %FALSE the command
     * reads /dev/null.
     *
     * Since: 0.1
     */
    properties[PROP_STDIN] = g_param_spec_boolean ("stdin", NULL, NULL, FALSE, flags);

    /**
     * BoxliteCommand:tty:
     *
     * Whether the command runs on a pseudo-terminal in the box, as its
     * controlling terminal and its stdin, stdout and stderr (with `TERM`
     * set to `xterm` unless [property@Boxlite.Command:env] sets it). Its
     * output and errors then come as one stream, the execution's stdout;
     * its stderr stream ends at once. Bytes written to its stdin go
     * through the terminal, so `\x03` interrupts it as Ctrl-C would, and
     * closing the stdin stream sends the terminal's end-of-file character
     * (Ctrl-D) once. The size can change while it runs with
     * boxlite_execution_resize().
     *
     * Since: 0.1
     */
    properties[PROP_TTY] = g_param_spec_boolean ("tty", NULL, NULL, FALSE, flags);

    /**
     * BoxliteCommand:tty-rows:
     *
     * The terminal's initial number of rows (see
     * [property@Boxlite.Command:tty]).
     *
     * Since: 0.1
     */
    properties[PROP_TTY_ROWS] = g_param_spec_uint ("tty-rows", NULL, NULL, BL_PROTO_TTY_MIN,
                                                   BL_PROTO_TTY_MAX, DEFAULT_TTY_ROWS, flags);

    /**
     * BoxliteCommand:tty-cols:
     *
     * The terminal's initial number of columns (see
     * [property@Boxlite.Command:tty]).
     *
     * Since: 0.1
     */
    properties[PROP_TTY_COLS] = g_param_spec_uint ("tty-cols", NULL, NULL, BL_PROTO_TTY_MIN,
                                                   BL_PROTO_TTY_MAX, DEFAULT_TTY_COLS, flags);

    g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
boxlite_command_init (BoxliteCommand *self)
{
    self->tty_rows = DEFAULT_TTY_ROWS;
    self->tty_cols = DEFAULT_TTY_COLS;
}

/**
 * boxlite_command_new:
 * @argv: (array zero-terminated=1): the program and its arguments; the
 *   program is looked up in the box's `PATH`
 *
 * Makes a command with no extra environment, the box's working directory
 * and user, no timeout, stdin from /dev/null and no terminal.
 *
 * Returns: (transfer full): the new command
 *
 * Since: 0.1
 */
BoxliteCommand *
boxlite_command_new (const char *const *argv)
{
    g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);

    return g_object_new (BOXLITE_TYPE_COMMAND, "argv", argv, NULL);
}

/**
 * boxlite_command_get_argv:
 * @self: the command
 *
 * Gets the [property@Boxlite.Command:argv] property.
 *
 * Returns: (array zero-terminated=1) (transfer none): the program and its
 *   arguments
 *
 * Since: 0.1
 */
const char *const *
boxlite_command_get_argv (BoxliteCommand *self)
{
    g_return_val_if_fail (BOXLITE_IS_COMMAND (self), NULL);
    return (const char *const *) self->argv;
}

/**
 * boxlite_command_get_env:
 * @self: the command
 *
 * Gets the [property@Boxlite.Command:env] property.
 *
 * Returns: (nullable) (array zero-terminated=1) (transfer none): `KEY=VALUE`
 *   entries added to the box's environment
 *
 * Since: 0.1
 */
const char *const *
boxlite_command_get_env (BoxliteCommand *self)
{
    g_return_val_if_fail (BOXLITE_IS_COMMAND (self), NULL);
    return (const char *const *) self->env;
}

/**
 * boxlite_command_set_env:
 * @self: the command
 * @env: (nullable) (array zero-terminated=1): `KEY=VALUE` entries, or %NULL
 *   for none
 *
 * Sets the [property@Boxlite.Command:env] property.
 *
 * Since: 0.1
 */
void
boxlite_command_set_env (BoxliteCommand *self, const char *const *env)
{
    g_return_if_fail (BOXLITE_IS_COMMAND (self));
    if (bl_set_strv (&self->env, env))
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENV]);
}

/**
 * boxlite_command_get_working_dir:
 * @self: the command
 *
 * Gets the [property@Boxlite.Command:working-dir] property.
 *
 * Returns: (nullable) (transfer none): the directory the command starts in,
 *   or %NULL for the box's
 *
 * Since: 0.1
 */
const char *
boxlite_command_get_working_dir (BoxliteCommand *self)
{
    g_return_val_if_fail (BOXLITE_IS_COMMAND (self), NULL);
    return self->working_dir;
}

/**
 * boxlite_command_set_working_dir:
 * @self: the command
 * @dir: (nullable): an absolute path in the box, or %NULL for the box's
 *
 * Sets the [property@Boxlite.Command:working-dir] property.
 *
 * Since: 0.1
 */
void
boxlite_command_set_working_dir (BoxliteCommand *self, const char *dir)
{
    g_return_if_fail (BOXLITE_IS_COMMAND (self));
    if (bl_set_str (&self->working_dir, dir))
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WORKING_DIR]);
}

/**
 * boxlite_command_get_root_dir:
 * @self: the command
 *
 * Gets the [property@Boxlite.Command:root-dir] property.
 *
 * Returns: (nullable) (transfer none): the directory the command sees as
 *   `/`, or %NULL for the box's root
 *
 * Since: 0.2
 */
const char *
boxlite_command_get_root_dir (BoxliteCommand *self)
{
    g_return_val_if_fail (BOXLITE_IS_COMMAND (self), NULL);
    return self->root_dir;
}

/**
 * boxlite_command_set_root_dir:
 * @self: the command
 * @dir: (nullable): an absolute path in the box, or %NULL for the box's root
 *
 * Sets the [property@Boxlite.Command:root-dir] property.
 *
 * Since: 0.2
 */
void
boxlite_command_set_root_dir (BoxliteCommand *self, const char *dir)
{
    g_return_if_fail (BOXLITE_IS_COMMAND (self));
    if (bl_set_str (&self->root_dir, dir))
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ROOT_DIR]);
}

/**
 * boxlite_command_get_root_base_dir:
 * @self: the command
 *
 * Gets the [property@Boxlite.Command:root-base-dir] property.
 *
 * Returns: (nullable) (transfer none): the tree the command's root is made
 *   from, or %NULL
 *
 * Since: 0.2
 */
const char *
boxlite_command_get_root_base_dir (BoxliteCommand *self)
{
    g_return_val_if_fail (BOXLITE_IS_COMMAND (self), NULL);
    return self->root_base_dir;
}

/**
 * boxlite_command_set_root_base_dir:
 * @self: the command
 * @dir: (nullable): an absolute path in the box, or %NULL
 *
 * Sets the [property@Boxlite.Command:root-base-dir] property.
 *
 * Since: 0.2
 */
void
boxlite_command_set_root_base_dir (BoxliteCommand *self, const char *dir)
{
    g_return_if_fail (BOXLITE_IS_COMMAND (self));
    if (bl_set_str (&self->root_base_dir, dir))
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ROOT_BASE_DIR]);
}

/**
 * boxlite_command_get_user:
 * @self: the command
 *
 * Gets the [property@Boxlite.Command:user] property.
 *
 * Returns: (nullable) (transfer none): the user the command runs as, or
 *   %NULL for the box's
 *
 * Since: 0.1
 */
const char *
boxlite_command_get_user (BoxliteCommand *self)
{
    g_return_val_if_fail (BOXLITE_IS_COMMAND (self), NULL);
    return self->user;
}

/**
 * boxlite_command_set_user:
 * @self: the command
 * @user: (nullable): a user name, a uid, or `uid:gid`; %NULL for the box's
 *
 * Sets the [property@Boxlite.Command:user] property.
 *
 * Since: 0.1
 */
void
boxlite_command_set_user (BoxliteCommand *self, const char *user)
{
    g_return_if_fail (BOXLITE_IS_COMMAND (self));
    if (bl_set_str (&self->user, user))
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USER]);
}

/**
 * boxlite_command_get_timeout_ms:
 * @self: the command
 *
 * Gets the [property@Boxlite.Command:timeout-ms] property.
 *
 * Returns: milliseconds after which the command is killed; 0 for never
 *
 * Since: 0.1
 */
guint
boxlite_command_get_timeout_ms (BoxliteCommand *self)
{
    g_return_val_if_fail (BOXLITE_IS_COMMAND (self), 0);
    return self->timeout_ms;
}

/**
 * boxlite_command_set_timeout_ms:
 * @self: the command
 * @timeout_ms: milliseconds after which the command and everything it
 *   started are killed; 0 for never
 *
 * Sets the [property@Boxlite.Command:timeout-ms] property.
 *
 * Since: 0.1
 */
void
boxlite_command_set_timeout_ms (BoxliteCommand *self, guint timeout_ms)
{
    g_return_if_fail (BOXLITE_IS_COMMAND (self));
    if (self->timeout_ms == timeout_ms)
        return;
    self->timeout_ms = timeout_ms;
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT_MS]);
}

/**
 * boxlite_command_get_stdin:
 * @self: the command
 *
 * Gets the [property@Boxlite.Command:stdin] property.
 *
 * Returns: whether the execution will have a stdin stream
 *
 * Since: 0.1
 */
gboolean
boxlite_command_get_stdin (BoxliteCommand *self)
{
    g_return_val_if_fail (BOXLITE_IS_COMMAND (self), FALSE);
    return self->pipe_stdin;
}

/**
 * boxlite_command_set_stdin:
 * @self: the command
 * @pipe_stdin: %TRUE to give the execution a stdin stream; %FALSE (the
 *   default) to give the command /dev/null
 *
 * Sets the [property@Boxlite.Command:stdin] property.
 *
 * Since: 0.1
 */
void
boxlite_command_set_stdin (BoxliteCommand *self, gboolean pipe_stdin)
{
    g_return_if_fail (BOXLITE_IS_COMMAND (self));
    pipe_stdin = !!pipe_stdin;
    if (self->pipe_stdin == pipe_stdin)
        return;
    self->pipe_stdin = pipe_stdin;
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STDIN]);
}

/**
 * boxlite_command_get_tty:
 * @self: the command
 *
 * Gets the [property@Boxlite.Command:tty] property.
 *
 * Returns: whether the command runs on a terminal
 *
 * Since: 0.1
 */
gboolean
boxlite_command_get_tty (BoxliteCommand *self)
{
    g_return_val_if_fail (BOXLITE_IS_COMMAND (self), FALSE);
    return self->tty;
}

/**
 * boxlite_command_set_tty:
 * @self: the command
 * @tty: %TRUE to run the command on a terminal
 *
 * Sets the [property@Boxlite.Command:tty] property.
 *
 * Since: 0.1
 */
void
boxlite_command_set_tty (BoxliteCommand *self, gboolean tty)
{
    g_return_if_fail (BOXLITE_IS_COMMAND (self));
    tty = !!tty;
    if (self->tty == tty)
        return;
    self->tty = tty;
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TTY]);
}

/**
 * boxlite_command_get_tty_rows:
 * @self: the command
 *
 * Gets the [property@Boxlite.Command:tty-rows] property.
 *
 * Returns: the terminal's initial number of rows
 *
 * Since: 0.1
 */
guint
boxlite_command_get_tty_rows (BoxliteCommand *self)
{
    g_return_val_if_fail (BOXLITE_IS_COMMAND (self), DEFAULT_TTY_ROWS);
    return self->tty_rows;
}

/**
 * boxlite_command_get_tty_cols:
 * @self: the command
 *
 * Gets the [property@Boxlite.Command:tty-cols] property.
 *
 * Returns: the terminal's initial number of columns
 *
 * Since: 0.1
 */
guint
boxlite_command_get_tty_cols (BoxliteCommand *self)
{
    g_return_val_if_fail (BOXLITE_IS_COMMAND (self), DEFAULT_TTY_COLS);
    return self->tty_cols;
}

/**
 * boxlite_command_set_tty_size:
 * @self: the command
 * @rows: the number of rows, 1 to 65535
 * @cols: the number of columns, 1 to 65535
 *
 * Sets the [property@Boxlite.Command:tty-rows] and
 * [property@Boxlite.Command:tty-cols] properties: the size the terminal has
 * when the command starts.
 *
 * Since: 0.1
 */
void
boxlite_command_set_tty_size (BoxliteCommand *self, guint rows, guint cols)
{
    g_return_if_fail (BOXLITE_IS_COMMAND (self));
    g_return_if_fail (rows >= BL_PROTO_TTY_MIN && rows <= BL_PROTO_TTY_MAX);
    g_return_if_fail (cols >= BL_PROTO_TTY_MIN && cols <= BL_PROTO_TTY_MAX);

    g_object_freeze_notify (G_OBJECT (self));
    if (self->tty_rows != rows) {
        self->tty_rows = rows;
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TTY_ROWS]);
    }
    if (self->tty_cols != cols) {
        self->tty_cols = cols;
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TTY_COLS]);
    }
    g_object_thaw_notify (G_OBJECT (self));
}
