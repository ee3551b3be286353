/* agent_frame.c: reading frames from the host and queueing frames to it.
 *
 * The loop never blocks on a write: frames go to a queue that is written out
 * when the fd polls writable. The queue is bounded by back-pressure: above
 * AGENT_OUTQ_HIGH the loop stops reading from the host and the children.
 * A frame staged by agent_splice.c is written before anything queued. */
#include "agent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void agent_link_init(struct agent_link *link, int fd)
{
    memset(link, 0, sizeof *link);
    link->fd = fd;
    agent_splice_init(link);
}

void agent_link_reset(struct agent_link *link, int fd)
{
    free(link->out);
    agent_splice_reset(link);
    agent_link_init(link, fd);
}

static size_t queued(const struct agent_link *link)
{
    return link->out_end - link->out_start;
}

size_t agent_link_pending(const struct agent_link *link)
{
    return link->staged + queued(link);
}

static void outq_reserve(struct agent_link *link, size_t n)
{
    if (link->out_cap - link->out_end >= n)
        return;
    size_t pending = queued(link);
    if (link->out_start && link->out_cap - pending >= n) {
        memmove(link->out, link->out + link->out_start, pending);
    } else {
        size_t cap = link->out_cap ? link->out_cap : 64 * 1024;
        while (cap - pending < n)
            cap *= 2;
        uint8_t *buf = malloc(cap);
        if (!buf)
            abort();
        if (pending)
            memcpy(buf, link->out + link->out_start, pending);
        free(link->out);
        link->out = buf;
        link->out_cap = cap;
    }
    link->out_start = 0;
    link->out_end = pending;
}

uint8_t *agent_link_reserve(struct agent_link *link, size_t max)
{
    if (max > BL_PROTO_MAX_PAYLOAD) {
        agent_log("refusing to queue an oversized frame (%zu bytes)", max);
        return NULL;
    }
    if (agent_link_pending(link) + BL_PROTO_HEADER_SIZE + max > AGENT_OUTQ_LIMIT) {
        agent_log("output queue overflow: the host does not read");
        link->broken = true;
        return NULL;
    }
    outq_reserve(link, BL_PROTO_HEADER_SIZE + max);
    return link->out + link->out_end + BL_PROTO_HEADER_SIZE;
}

void agent_link_commit(struct agent_link *link, uint32_t channel, uint8_t type, size_t len)
{
    struct bl_frame_header h = { .len = (uint32_t)len, .channel = channel, .type = type };

    bl_proto_encode_header(link->out + link->out_end, &h);
    link->out_end += BL_PROTO_HEADER_SIZE + len;
}

void agent_link_queue(struct agent_link *link, uint32_t channel, uint8_t type, const void *data,
                      size_t len)
{
    uint8_t *payload = agent_link_reserve(link, len);

    if (!payload)
        return;
    if (len)
        memcpy(payload, data, len);
    agent_link_commit(link, channel, type, len);
}

void agent_link_queue_json(struct agent_link *link, uint32_t channel, const struct agent_buf *json)
{
    agent_link_queue(link, channel, BL_FRAME_CONTROL, json->data, json->len);
}

void agent_link_queue_error(struct agent_link *link, uint32_t channel, const char *klass,
                            const char *desc)
{
    struct agent_buf b = { 0 };

    agent_buf_add_str(&b, "{\"error\":{\"class\":");
    agent_buf_add_json_str(&b, klass);
    agent_buf_add_str(&b, ",\"desc\":");
    agent_buf_add_json_str(&b, desc);
    agent_buf_add_str(&b, "}}");
    agent_link_queue_json(link, channel, &b);
    agent_buf_free(&b);
}

uint8_t *agent_link_head_room(struct agent_link *link, size_t len)
{
    if (link->out_start < len) {
        size_t pending = queued(link);
        outq_reserve(link, len);
        memmove(link->out + len, link->out + link->out_start, pending);
        link->out_start = len;
        link->out_end = len + pending;
    }
    link->out_start -= len;
    return link->out + link->out_start;
}

int agent_link_flush(struct agent_link *link)
{
    if (agent_splice_flush(link) < 0)
        return -1;
    if (link->staged)
        return 0; /* the queue comes after it */
    while (queued(link)) {
        ssize_t n = write(link->fd, link->out + link->out_start, queued(link));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            agent_log("write to host: %s", strerror(errno));
            return -1;
        }
        if (n == 0)
            return 0;
        link->out_start += (size_t)n;
    }
    link->out_start = link->out_end = 0;
    return 0;
}

int agent_link_drain(struct agent_link *link, int timeout_ms)
{
    int64_t end = agent_now_ms() + timeout_ms;

    while (agent_link_pending(link)) {
        if (agent_link_flush(link) < 0)
            return -1;
        if (!agent_link_pending(link))
            break;
        int64_t left = end - agent_now_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = { .fd = link->fd, .events = POLLOUT };
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
            return -1;
    }
    return 0;
}

int agent_link_read(struct agent_link *link, agent_frame_cb cb, void *user_data)
{
    static uint8_t buf[128 * 1024];
    ssize_t n;

    do
        n = read(link->fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 1;
        agent_log("read from host: %s", strerror(errno));
        return -1;
    }
    if (n == 0)
        return 0;

    const uint8_t *p = buf;
    size_t left = (size_t)n;
    while (left) {
        if (link->hdr_got < BL_PROTO_HEADER_SIZE) {
            size_t take = BL_PROTO_HEADER_SIZE - link->hdr_got;
            if (take > left)
                take = left;
            memcpy(link->hdr + link->hdr_got, p, take);
            link->hdr_got += take;
            p += take;
            left -= take;
            if (link->hdr_got < BL_PROTO_HEADER_SIZE)
                break;
            if (bl_proto_decode_header(link->hdr, &link->cur) < 0) {
                agent_log("protocol error: malformed frame header");
                return -1;
            }
            link->payload_got = 0;
        }
        size_t take = link->cur.len - link->payload_got;
        if (take > left)
            take = left;
        memcpy(link->payload + link->payload_got, p, take);
        link->payload_got += take;
        p += take;
        left -= take;
        if (link->payload_got == link->cur.len) {
            struct bl_frame_header h = link->cur;
            link->hdr_got = 0;
            if (cb(link, &h, link->payload, user_data) < 0)
                return -1;
        }
    }
    return 1;
}
