/* cli.h: what the files of the `boxlite` command line share. */
#pragma once

#include <boxlite/boxlite.h>

G_BEGIN_DECLS

/* Exit statuses of the container tools: our own failure, a command that
 * cannot be run, a command that does not exist. */
#define CLI_EXIT_FAILURE 125
#define CLI_EXIT_CANNOT_RUN 126
#define CLI_EXIT_NOT_FOUND 127

/* State of one invocation, handed to every subcommand. */
typedef struct {
    char *home_dir;          /* resolved: --home, $BOXLITE_HOME or ~/.boxlite */
    BoxliteRuntime *runtime; /* opened on first use by cli_runtime() */
} CliContext;

/* One subcommand: @argv[0] is its name; returns the process exit status. */
typedef int (*CliCommandFunc) (CliContext *cli, int argc, char **argv);

/* cli-common.c: messages, exit statuses, the runtime and box lookup. */
void cli_error (const char *format, ...) G_GNUC_PRINTF (1, 2);
int cli_fail (const GError *error);
int cli_status_for_error (const GError *error);
BoxliteRuntime *cli_runtime (CliContext *cli, GError **error);
BoxliteBox *cli_find_box (CliContext *cli, const char *id_or_name, GError **error);
void cli_run_until_interrupted (void);

/* A command of a group (`image ls`, `snapshot create`): @command_name is its
 * full name, for messages and --help. */
typedef int (*CliSubcommandFunc) (CliContext *cli, const char *command_name, int argc, char **argv);
typedef struct {
    const char *name;      /* "ls" */
    const char *full_name; /* "image ls" */
    CliSubcommandFunc run;
    const char *summary;
} CliSubcommand;
/* Runs the command of @group (@argv[1]) among the @n @commands, or prints
 * them (to stdout for --help, else to stderr with an error) with @usage. */
int cli_run_subcommand (CliContext *cli, const char *group, const char *usage,
                        const CliSubcommand *commands, guint n, int argc, char **argv);

/* cli-args.c: option parsing shared by every subcommand. */
typedef struct {
    char **positional; /* what is left before "--", without argv[0]; owned */
    char **command;    /* what follows "--", or NULL when there was no "--"; owned */
} CliArgs;

gboolean cli_args_parse (CliArgs *args, const char *command_name, const char *parameters,
                         const char *summary, const GOptionEntry *entries, gboolean options_first,
                         int argc, char **argv);
void cli_args_clear (CliArgs *args);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CliArgs, cli_args_clear)
gboolean cli_args_split_command (CliArgs *args, guint leading, char ***command);

/* cli-box-flags.c: the flags `run` and `create` share. */
typedef struct {
    char **env;
    char *working_dir;
    char *user;
    char *cpus;
    char *memory;
    char *disk_size; /* GiB */
    char *pids_limit;
    char *name;
    char *accel;
    char *network;    /* "none" or "default" */
    char **allow_net; /* --allow-net RULE, repeated */
    char **publish;   /* -p SPEC, repeated */
    char **volumes;   /* -v HOST:GUEST[:ro], repeated */
    gboolean cold;    /* boot the kernel, not a template */
    char *auto_stop;  /* --auto-stop SECONDS */
} CliBoxFlags;

#define CLI_BOX_FLAGS_INIT                                                                         \
    {                                                                                              \
        NULL                                                                                       \
    }

GOptionEntry *cli_box_flags_entries (CliBoxFlags *flags, const GOptionEntry *extra);
void cli_box_flags_clear (CliBoxFlags *flags);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CliBoxFlags, cli_box_flags_clear)
BoxliteBoxOptions *cli_box_flags_to_options (CliBoxFlags *flags, const char *image, char **command,
                                             GError **error);
BoxliteBox *cli_create_box (CliContext *cli, CliBoxFlags *flags, const char *image, char **command,
                            gboolean detach, gboolean auto_remove, GError **error);

/* cli-stream.c: a running command wired to our stdin, stdout and stderr. */
int cli_stream_execution (BoxliteExecution *execution, gboolean forward_stdin);

/* cli-tty.c: our terminal while a command runs on one in the box. */
gboolean cli_tty_check_stdin (void);
gboolean cli_tty_get_size (guint *rows, guint *cols);
gboolean cli_tty_make_raw (void);
void cli_tty_restore (void);

/* cli-exec.c */
int cli_exec_in_box (BoxliteBox *box, BoxliteCommand *command, gboolean forward_stdin,
                     gboolean tty);
int cli_exec_detached (BoxliteBox *box, BoxliteCommand *command);
int cli_cmd_exec (CliContext *cli, int argc, char **argv);

/* One file per subcommand or group of them. */
int cli_cmd_run (CliContext *cli, int argc, char **argv);
int cli_cmd_ps (CliContext *cli, int argc, char **argv);
int cli_cmd_create (CliContext *cli, int argc, char **argv);
int cli_cmd_start (CliContext *cli, int argc, char **argv);
int cli_cmd_stop (CliContext *cli, int argc, char **argv);
int cli_cmd_pause (CliContext *cli, int argc, char **argv);
int cli_cmd_unpause (CliContext *cli, int argc, char **argv);
int cli_cmd_rm (CliContext *cli, int argc, char **argv);
int cli_cmd_inspect (CliContext *cli, int argc, char **argv);
int cli_cmd_logs (CliContext *cli, int argc, char **argv);
int cli_cmd_stats (CliContext *cli, int argc, char **argv);
int cli_cmd_events (CliContext *cli, int argc, char **argv);
int cli_cmd_netlog (CliContext *cli, int argc, char **argv);
int cli_cmd_cp (CliContext *cli, int argc, char **argv);
/* cli-cp.c: "BOX:PATH" split, or FALSE for a path of this machine. */
gboolean cli_split_box_path (const char *arg, char **box, char **path);
/* cli-snapshot.c */
int cli_cmd_snapshot (CliContext *cli, int argc, char **argv);
int cli_cmd_clone (CliContext *cli, int argc, char **argv);

/* cli-images.c */
int cli_cmd_pull (CliContext *cli, int argc, char **argv);
int cli_cmd_images (CliContext *cli, int argc, char **argv);
int cli_cmd_rmi (CliContext *cli, int argc, char **argv);
int cli_cmd_import (CliContext *cli, int argc, char **argv);
int cli_cmd_image (CliContext *cli, int argc, char **argv);
int cli_cmd_template (CliContext *cli, int argc, char **argv);

/* cli-export.c; `boxlite import` is a box's when cli_import_is_box(). */
int cli_cmd_export (CliContext *cli, int argc, char **argv);
gboolean cli_import_is_box (int argc, char **argv);
int cli_import_box (CliContext *cli, int argc, char **argv);

/* cli-mcp.c */
int cli_cmd_mcp (CliContext *cli, int argc, char **argv);

/* cli-remote.c: `boxlite --host URL COMMAND…`; @argv[0] is the command. */
int cli_remote_main (const char *host, const char *token_file, int argc, char **argv);

/* cli-serve.c */
int cli_cmd_serve (CliContext *cli, int argc, char **argv);

/* cli-ps.c: "5 seconds ago", "3 days ago", "-" for NULL. */
char *cli_relative_time (GDateTime *when);

G_END_DECLS
