/* agent_splice.c: output frames whose payload never passes through the agent.
 *
 * Under TCG the guest's one vCPU bounds a stream: the command writes its
 * pipe, the agent read the bytes into its queue and wrote them to the port,
 * two more copies of every byte. Here a frame is staged in a pipe of the
 * link's own: its header written there, its payload moved from the command's
 * pipe by splice(2) (page references, no copy), and the whole frame moved on
 * to the port (virtio_console takes the pages as they are) or socket.
 *
 * Order: a frame is staged only when the queue is empty, and what is staged
 * is written before anything queued after it (agent_link_flush), so the
 * link's byte stream is what the read path would have made. A short move to
 * the fd leaves the rest staged until the fd polls writable. Whenever a move
 * fails for a reason other than a full fd, the staged bytes go back to the
 * head of the queue, so a frame begun is always finished. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Below this the read path is cheaper: it batches small frames in one write. */
#define SPLICE_MIN 4096
/* Room for a header page and a full payload's pages. */
#define STAGE_PIPE_SIZE (256 * 1024)

/* A link zeroed by its static storage has no pipe: fds 0 and 1 are not its. */
static void stage_close(struct agent_link *link)
{
    if (link->stage_ready) {
        close(link->stage[0]);
        close(link->stage[1]);
    }
    link->stage_ready = false;
}

void agent_splice_init(struct agent_link *link)
{
    link->stage_ready = false;
    link->staged = 0;
    link->spliced = 0;
    link->splice_off = false;
}

void agent_splice_reset(struct agent_link *link)
{
    stage_close(link);
    agent_splice_init(link);
}

static bool stage_open(struct agent_link *link)
{
    if (link->stage_ready)
        return true;
    if (pipe2(link->stage, O_NONBLOCK | O_CLOEXEC) < 0)
        return false;
    link->stage_ready = true;
    if (fcntl(link->stage[1], F_SETPIPE_SZ, STAGE_PIPE_SIZE) < STAGE_PIPE_SIZE) {
        stage_close(link);
        return false;
    }
    return true;
}

/* Reads @len staged bytes into @dst. Returns 0, or -1 when the stage holds
 * fewer (the kernel dropped some: the frame cannot be finished). */
static int stage_read(struct agent_link *link, uint8_t *dst, size_t len)
{
    while (len) {
        ssize_t n = read(link->stage[0], dst, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            agent_log("staged output lost (%zu bytes missing): the link is out of step", len);
            return -1;
        }
        dst += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The staged bytes, in order, to the head of the queue: the read path takes
 * the frame over. */
static int unstage(struct agent_link *link)
{
    size_t len = link->staged;
    uint8_t *head = agent_link_head_room(link, len);

    link->staged = 0;
    return stage_read(link, head, len);
}

int agent_splice_flush(struct agent_link *link)
{
    while (link->staged) {
        ssize_t n = splice(link->stage[0], NULL, link->fd, NULL, link->staged,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            link->staged -= (size_t)n;
            link->spliced += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0 && errno != EINVAL && errno != ENOMEM && errno != ENOSYS) {
            agent_log("splice to host: %s", strerror(errno));
            return -1;
        }
        /* The fd takes no splice (or returned nothing): written from the
         * queue instead, and not tried again on this link. */
        link->splice_off = true;
        return unstage(link);
    }
    return 0;
}

static ssize_t stage_output(struct agent_link *link, int src, uint32_t channel, uint8_t type,
                            size_t max)
{
    int avail = 0;

    if (link->splice_off || agent_link_pending(link))
        return 0;
    if (ioctl(src, FIONREAD, &avail) < 0 || avail < SPLICE_MIN)
        return 0;
    if (!stage_open(link)) {
        link->splice_off = true;
        return 0;
    }
    size_t len = (size_t)avail < max ? (size_t)avail : max;
    uint8_t hdr[BL_PROTO_HEADER_SIZE];
    struct bl_frame_header h = { .len = (uint32_t)len, .channel = channel, .type = type };

    bl_proto_encode_header(hdr, &h);
    if (write(link->stage[1], hdr, sizeof hdr) != (ssize_t)sizeof hdr) {
        link->splice_off = true;
        return 0;
    }
    ssize_t n = splice(src, NULL, link->stage[1], NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n <= 0) {
        /* Nothing moved: the header is taken back, the read path goes on. */
        uint8_t drop[BL_PROTO_HEADER_SIZE];
        if (n < 0 && errno == EINVAL)
            link->splice_off = true;
        return stage_read(link, drop, sizeof drop) < 0 ? -1 : 0;
    }
    if ((size_t)n < len) {
        /* The header promised more than came: the frame is rewritten in the
         * queue with the bytes that did. */
        uint8_t drop[BL_PROTO_HEADER_SIZE];
        uint8_t *buf = agent_link_reserve(link, (size_t)n);
        if (!buf || stage_read(link, drop, sizeof drop) < 0 || stage_read(link, buf, (size_t)n) < 0)
            return -1;
        agent_link_commit(link, channel, type, (size_t)n);
        return n;
    }
    link->staged = sizeof hdr + len;
    if (agent_splice_flush(link) < 0)
        return -1;
    return n;
}

ssize_t agent_splice_output(struct agent_link *link, int src, uint32_t channel, uint8_t type,
                            size_t max)
{
    ssize_t n = stage_output(link, src, channel, type, max);

    if (n < 0)
        link->broken = true;
    return n;
}
