/* boxlite-command.c: a command to run in a box. */
#include <boxlite/boxlite-command.h>

struct _BoxliteCommand {
    GObject parent_instance;
    GStrv argv;
    GStrv env;
    char *working_dir;
    char *user;
    guint timeout_ms;
    gboolean pipe_stdin;
};

G_DEFINE_FINAL_TYPE (BoxliteCommand, boxlite_command, G_TYPE_OBJECT)

static void
boxlite_command_finalize (GObject *object)
{
    BoxliteCommand *self = BOXLITE_COMMAND (object);

    g_strfreev (self->argv);
    g_strfreev (self->env);
    g_free (self->working_dir);
    g_free (self->user);
    G_OBJECT_CLASS (boxlite_command_parent_class)->finalize (object);
}

static void
boxlite_command_class_init (BoxliteCommandClass *klass)
{
    G_OBJECT_CLASS (klass)->finalize = boxlite_command_finalize;
}

static void
boxlite_command_init (BoxliteCommand *self)
{
}

/**
 * boxlite_command_new:
 * @argv: (array zero-terminated=1): the program and its arguments; the
 *   program is looked up in the box's `PATH`
 *
 * Returns: (transfer full): a command with no extra environment, the box's
 *   working directory and user, no timeout and stdin from /dev/null
 */
BoxliteCommand *
boxlite_command_new (const char *const *argv)
{
    g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);

    BoxliteCommand *self = g_object_new (BOXLITE_TYPE_COMMAND, NULL);
    self->argv = g_strdupv ((char **) argv);
    return self;
}

/**
 * boxlite_command_get_argv:
 * @self: the command
 *
 * Returns: (array zero-terminated=1) (transfer none): the program and its arguments
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
 * Returns: (nullable) (array zero-terminated=1) (transfer none): `KEY=VALUE`
 *   entries added to the box's environment
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
 * @env: (nullable) (array zero-terminated=1): `KEY=VALUE` entries
 */
void
boxlite_command_set_env (BoxliteCommand *self, const char *const *env)
{
    g_return_if_fail (BOXLITE_IS_COMMAND (self));
    g_strfreev (self->env);
    self->env = g_strdupv ((char **) env);
}

/**
 * boxlite_command_get_working_dir:
 * @self: the command
 *
 * Returns: (nullable): the directory the command starts in
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
 * @dir: (nullable): an absolute path in the box
 */
void
boxlite_command_set_working_dir (BoxliteCommand *self, const char *dir)
{
    g_return_if_fail (BOXLITE_IS_COMMAND (self));
    g_free (self->working_dir);
    self->working_dir = g_strdup (dir);
}

/**
 * boxlite_command_get_user:
 * @self: the command
 *
 * Returns: (nullable): the user the command runs as
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
 * @user: (nullable): a user name, a uid, or `uid:gid`
 */
void
boxlite_command_set_user (BoxliteCommand *self, const char *user)
{
    g_return_if_fail (BOXLITE_IS_COMMAND (self));
    g_free (self->user);
    self->user = g_strdup (user);
}

/**
 * boxlite_command_get_timeout_ms:
 * @self: the command
 *
 * Returns: milliseconds after which the command is killed; 0 for never
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
 */
void
boxlite_command_set_timeout_ms (BoxliteCommand *self, guint timeout_ms)
{
    g_return_if_fail (BOXLITE_IS_COMMAND (self));
    self->timeout_ms = timeout_ms;
}

/**
 * boxlite_command_get_stdin:
 * @self: the command
 *
 * Returns: whether the execution will have a stdin stream
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
 */
void
boxlite_command_set_stdin (BoxliteCommand *self, gboolean pipe_stdin)
{
    g_return_if_fail (BOXLITE_IS_COMMAND (self));
    self->pipe_stdin = pipe_stdin;
}
