/* agent_init.c: what the agent does as PID 1 of the box.
 *
 * The kernel starts it from the initramfs. It mounts the pseudo
 * filesystems and loads modules if the initramfs lists any; a template VM
 * is stopped at that point. Once the host has said which box this is
 * (agent_identity.c), it mounts the box's disk, moves into it like
 * switch_root(8), names the machine and brings up the loopback interface.
 * At shutdown it ends every process and reboots, which ends QEMU
 * (-no-reboot). */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/fs.h>

#define NEWROOT "/newroot"
#define ROOT_DEVICE "/dev/vda"
#define MODULES_ORDER "/lib/modules/boxlite.order"
#define WAIT_STEP_MS 20
#define WAIT_LIMIT_MS 10000
/* linux/ext4.h is not a uapi header everywhere: _IOW('f', 16, __u64). */
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)
#define EXT4_SUPER_MAGIC_VALUE 0xEF53

static void console_write(const char *msg)
{
    int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        fd = dup(2);
    if (fd < 0)
        return;
    size_t len = strlen(msg);
    while (len) {
        ssize_t n = write(fd, msg, len);
        if (n <= 0)
            break;
        msg += n;
        len -= (size_t)n;
    }
    close(fd);
}

void agent_fatal(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    int off = snprintf(msg, sizeof msg, "boxlite-agent: fatal: ");

    va_start(ap, fmt);
    vsnprintf(msg + off, sizeof msg - (size_t)off - 1, fmt, ap);
    va_end(ap);
    strcat(msg, "\n");
    console_write(msg);
    if (!agent_is_pid1)
        exit(1);
    sync();
    reboot(RB_AUTOBOOT);
    for (;;)
        pause(); /* PID 1 must never exit */
}

static void sleep_ms(int ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void make_dir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) < 0 && errno != EEXIST)
        agent_log("mkdir %s: %s", path, strerror(errno));
}

static void do_mount(const char *src, const char *target, const char *type, unsigned long flags,
                     const char *data, bool required)
{
    make_dir(target, 0755);
    if (mount(src, target, type, flags, data) < 0) {
        if (required)
            agent_fatal("mount %s on %s: %s", type, target, strerror(errno));
        agent_log("mount %s on %s: %s", type, target, strerror(errno));
    }
}

/* The pseudo filesystems, at boot (move_pseudo() takes them to the box's
 * root). */
static void mount_pseudo(void)
{
    static const struct {
        const char *src, *dir, *type;
        unsigned long flags;
        const char *data;
        bool required;
    } m[] = {
        { "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, true },
        { "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, true },
        { "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", true },
        { "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
          "newinstance,ptmxmode=0666,mode=0620,gid=5", false },
        { "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", false },
        { "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", false },
        { "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", false },
    };

    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        do_mount(m[i].src, m[i].dir, m[i].type, m[i].flags, m[i].data, m[i].required);
    /* Programs expect /dev/ptmx next to /dev/pts. */
    if (access("/dev/ptmx", F_OK) < 0 && symlink("pts/ptmx", "/dev/ptmx") < 0)
        agent_log("symlink /dev/ptmx: %s", strerror(errno));
}

static void load_modules(void)
{
    FILE *f = fopen(MODULES_ORDER, "re");
    char line[512];

    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        int fd = open(line, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            agent_log("module %s: %s", line, strerror(errno));
            continue;
        }
        if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
            agent_log("module %s: %s", line, strerror(errno));
        close(fd);
    }
    fclose(f);
}

/* Removes the initramfs's own files (the rootfs is about to become unreachable). */
static void clean_initramfs(void)
{
    if (unlink("/init") < 0)
        agent_log("unlink /init: %s", strerror(errno));
    unlink("/dev/console");
}

/* The pseudo file systems mounted at boot, moved under @root (/dev with
 * /dev/pts and /dev/shm on it). A copy of a template then runs one path of
 * the kernel, the move, where new mounts and unmounts of the old ones ran
 * five file systems' code for the first time in its QEMU. Nothing is
 * written to them before the move: /run and /tmp arrive empty. */
static void move_pseudo(const char *root)
{
    static const struct {
        const char *dir;
        bool required;
    } m[] = {
        { "/proc", true }, { "/sys", true }, { "/dev", true }, { "/tmp", false }, { "/run", false },
    };
    char path[256];

    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        snprintf(path, sizeof path, "%s%s", root, m[i].dir);
        make_dir(path, 0755);
        if (mount(m[i].dir, path, NULL, MS_MOVE, NULL) == 0)
            continue;
        if (m[i].required)
            agent_fatal("move %s to %s: %s", m[i].dir, path, strerror(errno));
        agent_log("move %s to %s: %s", m[i].dir, path, strerror(errno));
    }
}

/* Blocks of the ext4 file system on @dev_fd, from its superblock; 0 when it
 * is not one. */
static uint64_t ext4_blocks(int dev_fd, unsigned *block_size)
{
    uint8_t sb[1024];

    if (pread(dev_fd, sb, sizeof sb, 1024) != (ssize_t)sizeof sb)
        return 0;
#define LE16(o) ((uint32_t)sb[o] | (uint32_t)sb[(o) + 1] << 8)
#define LE32(o) (LE16(o) | LE16((o) + 2) << 16)
    if (LE16(0x38) != EXT4_SUPER_MAGIC_VALUE || LE32(0x18) > 6)
        return 0;
    *block_size = 1024u << LE32(0x18);
    uint64_t blocks = LE32(0x04);
    if (LE32(0x60) & 0x80) /* INCOMPAT_64BIT */
        blocks |= (uint64_t)LE32(0x150) << 32;
#undef LE32
#undef LE16
    return blocks;
}

/* The host may give the box a disk larger than the image's file system
 * (disk_size_gb): grow the mounted file system to the whole device. */
static void grow_root(void)
{
    uint64_t dev_bytes = 0;
    unsigned block_size = 0;
    int dev = open(ROOT_DEVICE, O_RDONLY | O_CLOEXEC);

    if (dev < 0) {
        agent_log("open %s: %s", ROOT_DEVICE, strerror(errno));
        return;
    }
    uint64_t blocks = ext4_blocks(dev, &block_size);
    if (ioctl(dev, BLKGETSIZE64, &dev_bytes) < 0)
        agent_log("%s: BLKGETSIZE64: %s", ROOT_DEVICE, strerror(errno));
    close(dev);
    if (!blocks || dev_bytes / block_size <= blocks)
        return;
    uint64_t want = dev_bytes / block_size;
    int fd = open(NEWROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || ioctl(fd, EXT4_IOC_RESIZE_FS, &want) < 0)
        agent_log("cannot grow the root file system to %llu blocks: %s", (unsigned long long)want,
                  strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void switch_root(void)
{
    clean_initramfs();
    if (chdir(NEWROOT) < 0)
        agent_fatal("chdir %s: %s", NEWROOT, strerror(errno));
    if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
        agent_fatal("move %s to /: %s", NEWROOT, strerror(errno));
    if (chroot(".") < 0)
        agent_fatal("chroot: %s", strerror(errno));
    if (chdir("/") < 0)
        agent_fatal("chdir /: %s", strerror(errno));
}

static void loopback_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;

    if (fd < 0) {
        agent_log("socket: %s", strerror(errno));
        return;
    }
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
        agent_log("lo: SIOCGIFFLAGS: %s", strerror(errno));
    } else {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
            agent_log("lo: SIOCSIFFLAGS: %s", strerror(errno));
    }
    close(fd);
}

static void setup_console(void)
{
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0)
        return;
    for (int i = 0; i < 3; i++)
        if (fcntl(i, F_GETFD) < 0)
            dup2(fd, i);
    if (fd > 2)
        close(fd);
}

void agent_init_early(void)
{
    setup_console();
    umask(022);
    mount_pseudo();
    setup_console();
    load_modules();
    /* Nothing of one box: lo, and eth0 when there is one, are set before
     * the host says who the box is, so a template's copies start with
     * them up instead of paying for it on the way to their first command. */
    loopback_up();
    agent_net_early();
}

/* The disk is the box's own, but a template VM saw its own scratch disk at
 * boot: wait until the kernel took in the size the host gave it
 * (block_resize), then drop every block the template's probe cached. */
static void root_device_settle(uint64_t want_bytes)
{
    uint64_t size = 0;
    int fd = -1;

    for (int waited = 0;; waited += WAIT_STEP_MS) {
        if (fd < 0)
            fd = open(ROOT_DEVICE, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && ioctl(fd, BLKGETSIZE64, &size) == 0 && (!want_bytes || size == want_bytes))
            break;
        if (waited >= WAIT_LIMIT_MS && fd < 0)
            agent_fatal("%s did not appear within %d s", ROOT_DEVICE, WAIT_LIMIT_MS / 1000);
        if (waited >= WAIT_LIMIT_MS)
            agent_fatal("%s did not reach %llu bytes within %d s (it has %llu)", ROOT_DEVICE,
                        (unsigned long long)want_bytes, WAIT_LIMIT_MS / 1000,
                        (unsigned long long)size);
        sleep_ms(fd < 0 ? WAIT_STEP_MS : 2);
    }
    if (ioctl(fd, BLKFLSBUF, 0) < 0)
        agent_log("%s: BLKFLSBUF: %s", ROOT_DEVICE, strerror(errno));
    close(fd);
}

void agent_init_root(const struct agent_identity *id)
{
    root_device_settle(id->disk_bytes);
    make_dir(NEWROOT, 0755);
    /* No background thread after the mount: the image's inode tables are
     * marked zeroed (disk.c), and block bitmaps are read when the
     * allocator needs them rather than all at once while the box's first
     * command starts. */
    if (mount(ROOT_DEVICE, NEWROOT, "ext4", 0, "no_prefetch_block_bitmaps") < 0)
        agent_fatal("mount %s on %s: %s", ROOT_DEVICE, NEWROOT, strerror(errno));
    grow_root();
    move_pseudo(NEWROOT);
    switch_root();
    agent_cgroup_setup(id->pids_max);

    if (sethostname(id->hostname, strlen(id->hostname)) < 0)
        agent_log("sethostname: %s", strerror(errno));
    agent_etc_setup(id->hostname, id->network);
    agent_net_setup(id->network);
}

/* Name file of a virtio port: /sys/class/virtio-ports/<port>/name. */
static bool port_has_name(const char *port)
{
    char path[512], name[128];
    snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", port);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, name, sizeof name - 1);
    close(fd);
    if (n <= 0)
        return false;
    name[n] = '\0';
    name[strcspn(name, "\n")] = '\0';
    return strcmp(name, BL_PROTO_PORT_NAME) == 0;
}

int agent_init_open_port(void)
{
    for (int waited = 0; waited < WAIT_LIMIT_MS; waited += WAIT_STEP_MS) {
        DIR *d = opendir("/sys/class/virtio-ports");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.' || !port_has_name(e->d_name))
                continue;
            char dev[300];
            snprintf(dev, sizeof dev, "/dev/%s", e->d_name);
            int fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
            if (fd < 0)
                agent_log("open %s: %s", dev, strerror(errno));
            closedir(d);
            return fd;
        }
        if (d)
            closedir(d);
        sleep_ms(WAIT_STEP_MS);
    }
    agent_log("no virtio port named %s", BL_PROTO_PORT_NAME);
    return -1;
}

static void reap_for(int ms)
{
    for (int waited = 0; waited < ms; waited += 20) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
            return;
        sleep_ms(20);
    }
}

void agent_init_poweroff(void)
{
    kill(-1, SIGTERM);
    reap_for(1000);
    kill(-1, SIGKILL);
    reap_for(500);
    sync();
    static const char *const dirs[] = { "/dev/pts", "/dev/shm", "/tmp", "/run", "/sys", "/proc" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        umount2(dirs[i], MNT_DETACH);
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
        console_write("boxlite-agent: cannot remount / read-only\n");
    sync();
    reboot(RB_AUTOBOOT);
    agent_fatal("reboot: %s", strerror(errno));
}
