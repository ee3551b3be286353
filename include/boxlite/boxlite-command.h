/* boxlite-command.h: a command to run in a box. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define BOXLITE_TYPE_COMMAND (boxlite_command_get_type ())
G_DECLARE_FINAL_TYPE (BoxliteCommand, boxlite_command, BOXLITE, COMMAND, GObject)

BoxliteCommand *boxlite_command_new (const char *const *argv);

const char *const *boxlite_command_get_argv (BoxliteCommand *self);
const char *const *boxlite_command_get_env (BoxliteCommand *self);
void boxlite_command_set_env (BoxliteCommand *self, const char *const *env);
const char *boxlite_command_get_working_dir (BoxliteCommand *self);
void boxlite_command_set_working_dir (BoxliteCommand *self, const char *dir);
const char *boxlite_command_get_root_dir (BoxliteCommand *self);
void boxlite_command_set_root_dir (BoxliteCommand *self, const char *dir);
const char *boxlite_command_get_root_base_dir (BoxliteCommand *self);
void boxlite_command_set_root_base_dir (BoxliteCommand *self, const char *dir);
const char *boxlite_command_get_user (BoxliteCommand *self);
void boxlite_command_set_user (BoxliteCommand *self, const char *user);
guint boxlite_command_get_timeout_ms (BoxliteCommand *self);
void boxlite_command_set_timeout_ms (BoxliteCommand *self, guint timeout_ms);
gboolean boxlite_command_get_stdin (BoxliteCommand *self);
void boxlite_command_set_stdin (BoxliteCommand *self, gboolean pipe_stdin);
gboolean boxlite_command_get_tty (BoxliteCommand *self);
void boxlite_command_set_tty (BoxliteCommand *self, gboolean tty);
guint boxlite_command_get_tty_rows (BoxliteCommand *self);
guint boxlite_command_get_tty_cols (BoxliteCommand *self);
void boxlite_command_set_tty_size (BoxliteCommand *self, guint rows, guint cols);

G_END_DECLS
