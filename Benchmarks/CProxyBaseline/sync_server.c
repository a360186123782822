// The floors under window-1 acknowledged publish (issue 18, target 7): servers
// that do the durable work of one acknowledged event and nothing else, so that
// the broker's window-1 rate can be read against what a process can reach
// through the same transport on the same disk.
//
// - `metro_sync_serve_zmq`: a ROUTER that takes each metro/1 PUBLISH (§4.2),
//   writes one record, fdatasyncs it and replies ACK: libzmq's chain (an I/O
//   thread on either side of each hop) with no broker in it. The window-1 client
//   of `metro_bench_acked` talks to it unchanged.
// - `metro_sync_serve_tcp` + `metro_bench_tcp_sync`: the same over a plain TCP
//   socket, blocking read, write, sync, reply: the Redis `appendfsync always`
//   shape, with no I/O threads at all.
// Both write into a file whose zeros were written and synced ahead, as the
// journal's zero fill keeps them (protocol.md Appendix B), so each sync commits
// data only, like `metro_bench_fdatasync`.
#define _GNU_SOURCE
#include "proxy_baseline.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

enum { RECORD_LIMIT = 4096, FILL_BYTES = 4 << 20, FILL_CHUNK = 256 << 10 };

static int64_t clock_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/// A file in `directory` with FILL_BYTES of zeros written and synced; -1 on error.
static int open_filled(const char *directory, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%d", directory, name, (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    unlink(path);  // gone with the process, however it ends
    char *zeros = calloc(1, FILL_CHUNK);
    int rc = 0;
    for (size_t at = 0; at < FILL_BYTES && rc == 0; at += FILL_CHUNK) {
        if (pwrite(fd, zeros, FILL_CHUNK, (off_t)at) != FILL_CHUNK) rc = -1;
    }
    free(zeros);
    if (rc != 0 || fdatasync(fd) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/// Appends `length` bytes at `*offset` (wrapping inside the filled span) and syncs.
static int append_synced(int fd, off_t *offset, const void *data, size_t length) {
    if (*offset + (off_t)length > FILL_BYTES) *offset = 0;
    if (pwrite(fd, data, length, *offset) != (ssize_t)length) return -1;
    *offset += (off_t)length;
    return fdatasync(fd);
}

/// The broker's shape of the same work (`handoff`): the loop polls the ROUTER
/// and a pipe, writes each PUBLISH and hands the sync to a thread of its own,
/// which fdatasyncs and writes a byte to the pipe; the loop then ACKs what is
/// durable. Two thread wake-ups more per event than the one-thread server.
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t wanted;
    uint64_t requested, synced;
    int fd, pipe_write, failed;
} syncer_state;

static void *syncer_loop(void *arg) {
    syncer_state *st = arg;
    pthread_mutex_lock(&st->lock);
    for (;;) {
        while (st->requested == st->synced) pthread_cond_wait(&st->wanted, &st->lock);
        uint64_t token = st->requested;
        pthread_mutex_unlock(&st->lock);
        int rc = fdatasync(st->fd);
        pthread_mutex_lock(&st->lock);
        if (rc != 0) st->failed = 1;
        st->synced = token;
        char byte = 1;
        if (write(st->pipe_write, &byte, 1) != 1) st->failed = 1;
    }
    return NULL;
}

static int serve_zmq_handoff(int fd, void *router) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    syncer_state st = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, fd, fds[1], 0};
    pthread_t thread;
    pthread_create(&thread, NULL, syncer_loop, &st);
    // Waiting ACKs: routing id and event id of each written event, in order.
    enum { WAITING = 4096 };
    static unsigned char routing[WAITING][64], ids[WAITING][64];
    static size_t routing_length[WAITING], id_length[WAITING];
    static uint64_t token_of[WAITING];
    size_t head = 0, tail = 0;
    unsigned char record[RECORD_LIMIT] = {0};
    off_t offset = 0;
    uint64_t seq = 0, token = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_pollitem_t items[2] = {{router, 0, ZMQ_POLLIN, 0}, {NULL, fds[0], ZMQ_POLLIN, 0}};
    while (zmq_poll(items, 2, -1) >= 0) {
        if (items[1].revents & ZMQ_POLLIN) {
            char drain[64];
            while (read(fds[0], drain, sizeof drain) > 0) {}
            pthread_mutex_lock(&st.lock);
            uint64_t durable = st.synced;
            int failed = st.failed;
            pthread_mutex_unlock(&st.lock);
            if (failed) return -1;
            for (; tail != head && token_of[tail % WAITING] <= durable; tail++) {
                size_t i = tail % WAITING;
                unsigned char be[8];
                seq++;
                for (int b = 0; b < 8; b++) be[b] = (unsigned char)(seq >> (56 - 8 * b));
                zmq_send(router, routing[i], routing_length[i], ZMQ_SNDMORE);
                zmq_send(router, "metro/1", 7, ZMQ_SNDMORE);
                zmq_send(router, "ACK", 3, ZMQ_SNDMORE);
                zmq_send(router, ids[i], id_length[i], ZMQ_SNDMORE);
                zmq_send(router, be, 8, 0);
            }
        }
        int wrote = 0;
        while (head - tail < WAITING) {
            size_t frame = 0, at = 0, i = head % WAITING;
            if (zmq_msg_recv(&m, router, ZMQ_DONTWAIT) < 0) break;
            do {
                if (frame > 0 && zmq_msg_recv(&m, router, 0) < 0) return -1;
                size_t length = zmq_msg_size(&m);
                const unsigned char *data = zmq_msg_data(&m);
                if (frame == 0 && length <= 64) memcpy(routing[i], data, routing_length[i] = length);
                if (frame == 3 && length <= 64) memcpy(ids[i], data, id_length[i] = length);
                if (frame >= 3) {
                    size_t room = sizeof record - at, take = length < room ? length : room;
                    memcpy(record + at, data, take);
                    at += take;
                }
                frame++;
            } while (zmq_msg_more(&m));
            if (at < 160) at = 160;
            if (offset + (off_t)at > FILL_BYTES) offset = 0;
            if (pwrite(fd, record, at, offset) != (ssize_t)at) return -1;
            offset += (off_t)at;
            token_of[i] = ++token;
            head++;
            wrote = 1;
        }
        if (wrote) {  // signalled after the unlock, as the broker does
            pthread_mutex_lock(&st.lock);
            st.requested = token;
            pthread_mutex_unlock(&st.lock);
            pthread_cond_signal(&st.wanted);
        }
    }
    return -1;
}

int metro_sync_serve_zmq(const char *directory, int handoff) {
    int fd = open_filled(directory, "sync-zmq");
    if (fd < 0) return -1;
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    if (zmq_bind(router, "tcp://127.0.0.1:*") != 0) return -1;
    char endpoint[256];
    size_t endpoint_length = sizeof endpoint;
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, endpoint, &endpoint_length);
    printf("ready {\"ingest\":\"%s\"}\n", endpoint);
    fflush(stdout);
    if (handoff) return serve_zmq_handoff(fd, router);
    // One message: [routing id]["metro/1"]["PUBLISH"]([id][topic][headers][payload])+.
    // The record is the event frames one after another, as long as a journal
    // record of the same event (Appendix B), give or take its header.
    unsigned char record[RECORD_LIMIT] = {0}, routing[256], ids[64][64];
    size_t routing_length = 0, id_lengths[64];
    off_t offset = 0;
    uint64_t seq = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        size_t frame = 0, at = 0, events = 0;
        do {
            if (zmq_msg_recv(&m, router, 0) < 0) return -1;
            size_t length = zmq_msg_size(&m);
            const unsigned char *data = zmq_msg_data(&m);
            if (frame == 0 && length <= sizeof routing) {
                memcpy(routing, data, length);
                routing_length = length;
            } else if (frame >= 3) {
                if ((frame - 3) % 4 == 0 && events < 64 && length <= 64) {
                    memcpy(ids[events], data, length);
                    id_lengths[events++] = length;
                }
                size_t room = sizeof record - at;
                size_t take = length < room ? length : room;
                memcpy(record + at, data, take);
                at += take;
            }
            frame++;
        } while (zmq_msg_more(&m));
        if (at < 160) at = 160;
        if (append_synced(fd, &offset, record, at) != 0) return -1;
        zmq_send(router, routing, routing_length, ZMQ_SNDMORE);
        zmq_send(router, "metro/1", 7, ZMQ_SNDMORE);
        zmq_send(router, "ACK", 3, events ? ZMQ_SNDMORE : 0);
        for (size_t i = 0; i < events; i++) {
            unsigned char be[8];
            seq++;
            for (int b = 0; b < 8; b++) be[b] = (unsigned char)(seq >> (56 - 8 * b));
            zmq_send(router, ids[i], id_lengths[i], ZMQ_SNDMORE);
            zmq_send(router, be, 8, i + 1 < events ? ZMQ_SNDMORE : 0);
        }
    }
}

static int read_full(int socket, void *buffer, size_t length) {
    for (size_t at = 0; at < length;) {
        ssize_t n = read(socket, (char *)buffer + at, length - at);
        if (n <= 0) return -1;
        at += (size_t)n;
    }
    return 0;
}

static int write_full(int socket, const void *buffer, size_t length) {
    for (size_t at = 0; at < length;) {
        ssize_t n = write(socket, (const char *)buffer + at, length - at);
        if (n <= 0) return -1;
        at += (size_t)n;
    }
    return 0;
}

int metro_sync_serve_tcp(const char *directory, size_t record) {
    int fd = open_filled(directory, "sync-tcp");
    if (fd < 0 || record == 0 || record > RECORD_LIMIT) return -1;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 4) != 0) return -1;
    socklen_t address_length = sizeof address;
    getsockname(listener, (struct sockaddr *)&address, &address_length);
    printf("ready {\"port\":\"%d\"}\n", ntohs(address.sin_port));
    fflush(stdout);
    unsigned char data[RECORD_LIMIT];
    off_t offset = 0;
    uint64_t seq = 0;
    for (;;) {
        int connection = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (connection < 0) return -1;
        int one = 1;
        setsockopt(connection, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        // One request: `record` bytes; one reply: the seq, 8 bytes.
        while (read_full(connection, data, record) == 0) {
            if (append_synced(fd, &offset, data, record) != 0) return -1;
            seq++;
            if (write_full(connection, &seq, sizeof seq) != 0) break;
        }
        close(connection);
    }
}

int metro_bench_tcp_sync(int port, uint64_t count, size_t record, double *seconds, int64_t *latencies) {
    int connection = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connection < 0 || connect(connection, (struct sockaddr *)&address, sizeof address) != 0) return -1;
    int one = 1;
    setsockopt(connection, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    unsigned char *data = calloc(1, record);
    uint64_t seq;
    int rc = 0;
    int64_t start = clock_ns();
    for (uint64_t i = 0; i < count && rc == 0; i++) {
        int64_t sent = clock_ns();
        memcpy(data, &i, sizeof i < record ? sizeof i : record);
        if (write_full(connection, data, record) != 0 || read_full(connection, &seq, sizeof seq) != 0) rc = -1;
        if (latencies) latencies[i] = clock_ns() - sent;
    }
    *seconds = (double)(clock_ns() - start) / 1e9;
    free(data);
    close(connection);
    return rc;
}
