/* agent_user.c: users and groups, read straight from /etc/passwd and
 * /etc/group (a static binary has no NSS). */
#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct passwd_line {
    char name[256];
    uid_t uid;
    gid_t gid;
    char home[512];
};

static FILE *open_etc(const char *root_dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/etc/%s", root_dir ? root_dir : "", name);
    return fopen(path, "re");
}

/* Parses a decimal id; false unless the whole string is one. */
static bool parse_id(const char *s, unsigned long *out)
{
    char *end;
    if (!*s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > 0xfffffffeUL)
        return false;
    *out = v;
    return true;
}

/* Splits a colon-separated line in place into at most @max fields. */
static size_t split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    line[strcspn(line, "\n")] = '\0';
    fields[n++] = line;
    for (char *p = line; *p && n < max; p++) {
        if (*p == ':') {
            *p = '\0';
            fields[n++] = p + 1;
        }
    }
    return n;
}

/* Finds a passwd entry by name (@name != NULL) or by uid. */
static bool find_passwd(const char *root_dir, const char *name, uid_t uid, struct passwd_line *out)
{
    FILE *f = open_etc(root_dir, "passwd");
    char line[2048];
    bool found = false;

    if (!f)
        return false;
    while (!found && fgets(line, sizeof line, f)) {
        char *fld[7];
        unsigned long u, g;
        if (split_fields(line, fld, 7) < 7 || !parse_id(fld[2], &u) || !parse_id(fld[3], &g))
            continue;
        if (name ? strcmp(fld[0], name) != 0 : (uid_t)u != uid)
            continue;
        snprintf(out->name, sizeof out->name, "%s", fld[0]);
        out->uid = (uid_t)u;
        out->gid = (gid_t)g;
        snprintf(out->home, sizeof out->home, "%s", fld[5][0] ? fld[5] : "/");
        found = true;
    }
    fclose(f);
    return found;
}

static bool find_group(const char *root_dir, const char *name, gid_t *gid)
{
    FILE *f = open_etc(root_dir, "group");
    char line[4096];
    bool found = false;

    if (!f)
        return false;
    while (!found && fgets(line, sizeof line, f)) {
        char *fld[4];
        unsigned long g;
        if (split_fields(line, fld, 4) < 3 || !parse_id(fld[2], &g))
            continue;
        if (strcmp(fld[0], name) == 0) {
            *gid = (gid_t)g;
            found = true;
        }
    }
    fclose(f);
    return found;
}

static void add_group(struct agent_user *u, gid_t g)
{
    for (size_t i = 0; i < u->n_groups; i++)
        if (u->groups[i] == g)
            return;
    if (u->n_groups < AGENT_MAX_GROUPS)
        u->groups[u->n_groups++] = g;
}

/* Supplementary groups: those listing @name as a member. */
static void member_groups(const char *root_dir, const char *name, struct agent_user *u)
{
    FILE *f = open_etc(root_dir, "group");
    char line[4096];

    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char *fld[4];
        unsigned long g;
        if (split_fields(line, fld, 4) < 4 || !parse_id(fld[2], &g))
            continue;
        char *save = NULL;
        for (char *m = strtok_r(fld[3], ",", &save); m; m = strtok_r(NULL, ",", &save))
            if (strcmp(m, name) == 0)
                add_group(u, (gid_t)g);
    }
    fclose(f);
}

int agent_user_resolve(const char *spec, const char *root_dir, struct agent_user *out, char *err,
                       size_t err_len)
{
    char user_part[256], group_part[256] = "";
    struct passwd_line pw;
    bool have_pw;
    unsigned long id;

    memset(out, 0, sizeof *out);
    if (!spec || !*spec)
        spec = "0";
    const char *colon = strchr(spec, ':');
    size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
    if (ulen == 0 || ulen >= sizeof user_part ||
        (colon && (!colon[1] || strlen(colon + 1) >= sizeof group_part))) {
        snprintf(err, err_len, "invalid user: %s", spec);
        return -1;
    }
    memcpy(user_part, spec, ulen);
    user_part[ulen] = '\0';
    if (colon)
        snprintf(group_part, sizeof group_part, "%s", colon + 1);

    if (parse_id(user_part, &id)) {
        have_pw = find_passwd(root_dir, NULL, (uid_t)id, &pw);
        out->uid = (uid_t)id;
        out->gid = have_pw ? pw.gid : 0;
    } else {
        have_pw = find_passwd(root_dir, user_part, 0, &pw);
        if (!have_pw) {
            snprintf(err, err_len, "unknown user: %s", user_part);
            return -1;
        }
        out->uid = pw.uid;
        out->gid = pw.gid;
    }
    snprintf(out->home, sizeof out->home, "%s", have_pw ? pw.home : "/");

    if (group_part[0]) {
        if (parse_id(group_part, &id)) {
            out->gid = (gid_t)id;
        } else if (!find_group(root_dir, group_part, &out->gid)) {
            snprintf(err, err_len, "unknown group: %s", group_part);
            return -1;
        }
    }
    add_group(out, out->gid);
    if (have_pw && !group_part[0])
        member_groups(root_dir, pw.name, out);
    return 0;
}
