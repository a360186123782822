#include "proxy_baseline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(int64_t t) {
    struct timespec ts = {.tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {}
}

/// Binds both sockets and prints the ready line; 0 on success.
static int bind_pair(void *xsub, void *xpub, const char *frontend, const char *backend) {
    // The broker's default high-water marks, so all targets drop (or not) alike.
    int hwm = 100000;
    zmq_setsockopt(xsub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(xpub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    // Subscriptions travel XPUB -> proxy -> XSUB -> publishers; XSUB drops those
    // over its ZMQ_SNDHWM (1,000), so 10,000 subscriptions (the fan-out table)
    // need the same room on the way up and on the way in.
    zmq_setsockopt(xsub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(xpub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_bind(xsub, frontend) != 0 || zmq_bind(xpub, backend) != 0) return -1;
    char f[256], b[256];
    size_t fl = sizeof f, bl = sizeof b;
    zmq_getsockopt(xsub, ZMQ_LAST_ENDPOINT, f, &fl);
    zmq_getsockopt(xpub, ZMQ_LAST_ENDPOINT, b, &bl);
    printf("ready {\"publish\":\"%s\",\"events\":\"%s\"}\n", f, b);
    fflush(stdout);
    return 0;
}

int metro_proxy_serve(const char *frontend, const char *backend) {
    void *ctx = zmq_ctx_new();
    void *xsub = zmq_socket(ctx, ZMQ_XSUB);
    void *xpub = zmq_socket(ctx, ZMQ_XPUB);
    if (bind_pair(xsub, xpub, frontend, backend) != 0) return -1;
    zmq_proxy(xsub, xpub, NULL);
    return -1;
}

/// Moves every frame of one message from `from` to `to` (zero-copy).
static int move_message(void *from, void *to, zmq_msg_t *m) {
    while (1) {
        if (zmq_msg_recv(m, from, 0) < 0) return -1;
        int more = zmq_msg_more(m);
        if (zmq_msg_send(m, to, more ? ZMQ_SNDMORE : 0) < 0) return -1;
        if (!more) return 0;
    }
}

/// Writes the envelope's seq and clock (big-endian, §4.4) into `env`, zeros after.
static void fill_envelope(unsigned char *env, size_t envelope, uint64_t seq) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t t = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    memset(env, 0, envelope);
    for (int b = 0; b < 8 && b < (int)envelope; b++) env[b] = (unsigned char)(seq >> (56 - 8 * b));
    for (int b = 0; b < 8 && 8 + b < (int)envelope; b++) env[8 + b] = (unsigned char)(t >> (56 - 8 * b));
}

/// The forwarders' loop: zmq_proxy's (up to 1000 messages per readiness, without
/// blocking, subscriptions passed upstream), with the envelope added to each
/// event as its own frame or, `inline_form`, inside the topic frame after 0x00.
static int forward_loop(const char *frontend, const char *backend, size_t envelope, int inline_form) {
    void *ctx = zmq_ctx_new();
    void *xsub = zmq_socket(ctx, ZMQ_XSUB);
    void *xpub = zmq_socket(ctx, ZMQ_XPUB);
    if (bind_pair(xsub, xpub, frontend, backend) != 0) return -1;
    // [topic][0x00][envelope] in one frame: 255 + 1 + 64 bytes at most.
    unsigned char frame[255 + 1 + 64];
    if (envelope > 64) envelope = 64;
    uint64_t seq = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_pollitem_t items[2] = {{xsub, 0, ZMQ_POLLIN, 0}, {xpub, 0, ZMQ_POLLIN, 0}};
    while (zmq_poll(items, 2, -1) >= 0) {
        for (int i = 0; i < 1000 && (items[0].revents & ZMQ_POLLIN); i++) {
            if (zmq_msg_recv(&m, xsub, ZMQ_DONTWAIT) < 0) break;
            if (!zmq_msg_more(&m)) {  // not an event: pass it on as it is
                if (zmq_msg_send(&m, xpub, 0) < 0) return -1;
                continue;
            }
            seq++;
            if (inline_form) {
                size_t topic = zmq_msg_size(&m);
                if (topic > 255) topic = 255;
                memcpy(frame, zmq_msg_data(&m), topic);
                frame[topic] = 0;
                fill_envelope(frame + topic + 1, envelope, seq);
                if (zmq_send(xpub, frame, topic + 1 + envelope, ZMQ_SNDMORE) < 0) return -1;
            } else {
                if (zmq_msg_send(&m, xpub, ZMQ_SNDMORE) < 0) return -1;  // the topic, moved
                fill_envelope(frame, envelope, seq);
                if (zmq_send(xpub, frame, envelope, ZMQ_SNDMORE) < 0) return -1;
            }
            if (move_message(xsub, xpub, &m) < 0) return -1;
        }
        for (int i = 0; i < 1000 && (items[1].revents & ZMQ_POLLIN); i++) {
            if (zmq_msg_recv(&m, xpub, ZMQ_DONTWAIT) < 0) break;
            int more = zmq_msg_more(&m);
            if (zmq_msg_send(&m, xsub, more ? ZMQ_SNDMORE : 0) < 0) return -1;
            if (more && move_message(xpub, xsub, &m) < 0) return -1;
        }
    }
    return -1;
}

int metro_forward_serve(const char *frontend, const char *backend, size_t envelope) {
    return forward_loop(frontend, backend, envelope, 0);
}

int metro_forward_inline_serve(const char *frontend, const char *backend, size_t envelope) {
    return forward_loop(frontend, backend, envelope, 1);
}

/// Receives one whole message; returns its frame count, copies the first frame
/// (topic) into `topic` and the last frame into `last` (up to their capacities).
static int recv_message(void *s, char *topic, size_t topic_cap, size_t *topic_len, char *last, size_t last_cap,
                        int flags) {
    int frames = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (1) {
        if (zmq_msg_recv(&m, s, frames == 0 ? flags : 0) < 0) { zmq_msg_close(&m); return frames == 0 ? -1 : frames; }
        size_t n = zmq_msg_size(&m);
        if (frames == 0) {
            *topic_len = n;
            memcpy(topic, zmq_msg_data(&m), n < topic_cap ? n : topic_cap);
        }
        frames++;
        if (!zmq_msg_more(&m)) {
            if (last) memcpy(last, zmq_msg_data(&m), n < last_cap ? n : last_cap);
            break;
        }
    }
    zmq_msg_close(&m);
    return frames;
}

static int is_topic(const char *topic, size_t len, const char *want) {
    return len == strlen(want) && memcmp(topic, want, len) == 0;
}

/// Sends [warm][x] until the subscriber sees one: both hops are connected then.
static void warm_up(void *pub, void *sub) {
    char topic[64];
    size_t tl;
    while (1) {
        zmq_send(pub, "warm", 4, ZMQ_SNDMORE);
        zmq_send(pub, "x", 1, 0);
        zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 10) > 0) break;
    }
    while (recv_message(sub, topic, sizeof topic, &tl, NULL, 0, ZMQ_DONTWAIT) > 0) {}
}

typedef struct {
    void *pub;
    uint64_t count;
    size_t size;
    uint64_t rate;
    const char *topic;
    size_t middle;  // > 0: a frame of this many zero bytes between topic and payload
} pub_job;

static void *publish_loop(void *arg) {
    pub_job *job = arg;
    char *payload = calloc(1, job->size < 8 ? 8 : job->size);
    int64_t start = now_ns();
    size_t tl = strlen(job->topic);
    char middle[64] = {0};
    size_t ml = job->middle < sizeof middle ? job->middle : sizeof middle;
    for (uint64_t i = 0; i < job->count; i++) {
        if (job->rate) {
            sleep_until(start + (int64_t)(i * 1000000000ULL / job->rate));
            int64_t t = now_ns();
            memcpy(payload, &t, 8);
        }
        zmq_send(job->pub, job->topic, tl, ZMQ_SNDMORE);
        if (ml) zmq_send(job->pub, middle, ml, ZMQ_SNDMORE);
        zmq_send(job->pub, payload, job->size, 0);
    }
    free(payload);
    return NULL;
}

static void open_pair(void *ctx, const char *publish, const char *events, void **pub, void **sub) {
    int zero = 0;
    *sub = zmq_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(*sub, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(*sub, ZMQ_SUBSCRIBE, "", 0);
    zmq_connect(*sub, events);
    *pub = zmq_socket(ctx, ZMQ_PUB);
    zmq_setsockopt(*pub, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_connect(*pub, publish);
    warm_up(*pub, *sub);
}

static void close_all(void *ctx, void *a, void *b) {
    int zero = 0;
    zmq_setsockopt(a, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(b, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
}

int metro_bench_throughput(const char *publish, const char *events, uint64_t count, size_t size, size_t middle,
                           uint64_t *received, double *seconds) {
    void *ctx = zmq_ctx_new();
    void *pub, *sub;
    open_pair(ctx, publish, events, &pub, &sub);
    pub_job job = {pub, count, size, 0, "bench", middle};
    pthread_t t;
    pthread_create(&t, NULL, publish_loop, &job);
    int timeout = 100;
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    uint64_t got = 0;
    int64_t first = 0, last = now_ns();
    char topic[64];
    size_t tl;
    // Ends after `count` bench messages, or 2 s without one (heartbeats do not count).
    while (got < count && now_ns() - last < 2000000000LL) {
        if (recv_message(sub, topic, sizeof topic, &tl, NULL, 0, 0) < 0) continue;
        // "bench", or "bench" + 0x00 + envelope (the two-frame form's topic frame).
        if (!is_topic(topic, tl, "bench") && !(tl > 5 && memcmp(topic, "bench", 6) == 0)) continue;
        last = now_ns();
        if (got++ == 0) first = last;
    }
    pthread_join(t, NULL);
    *received = got;
    *seconds = (double)(last - first) / 1e9;
    close_all(ctx, pub, sub);
    return 0;
}

/// CLOCK_REALTIME minus CLOCK_MONOTONIC, in ns: turns the broker's stamp (realtime)
/// into the publisher's clock (monotonic).
static int64_t realtime_offset(void) {
    struct timespec r, m;
    clock_gettime(CLOCK_REALTIME, &r);
    clock_gettime(CLOCK_MONOTONIC, &m);
    return ((int64_t)r.tv_sec - (int64_t)m.tv_sec) * 1000000000LL + ((int64_t)r.tv_nsec - (int64_t)m.tv_nsec);
}

int metro_bench_latency(const char *publish, const char *events, uint64_t count, uint64_t rate, size_t size,
                        int64_t *latencies, int64_t *to_broker, uint64_t *received) {
    void *ctx = zmq_ctx_new();
    void *pub, *sub;
    open_pair(ctx, publish, events, &pub, &sub);
    pub_job job = {pub, count, size, rate, "lat"};
    pthread_t t;
    pthread_create(&t, NULL, publish_loop, &job);
    int timeout = 100;
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    uint64_t got = 0;
    int64_t offset = realtime_offset();
    int64_t seen = now_ns();
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (got < count && now_ns() - seen < 2000000000LL) {
        // [topic][payload] from zmq_proxy, [topic][envelope][payload] from the broker
        // (protocol.md §4.4: the envelope's bytes 8..15 are its stamp, big-endian ns).
        int frames = 0, wanted = 0;
        int64_t stamp = -1, sent = 0;
        while (1) {
            if (zmq_msg_recv(&m, sub, 0) < 0) break;
            const unsigned char *d = zmq_msg_data(&m);
            size_t n = zmq_msg_size(&m);
            if (frames == 0) wanted = (n == 3 && memcmp(d, "lat", 3) == 0);
            int more = zmq_msg_more(&m);
            if (wanted && frames == 1 && more && n >= 16) {
                uint64_t v = 0;
                for (int i = 8; i < 16; i++) v = (v << 8) | d[i];
                stamp = (int64_t)v - offset;
            }
            if (wanted && !more && n >= 8) memcpy(&sent, d, 8);
            frames++;
            if (!more) break;
        }
        if (!wanted || frames < 2) continue;
        int64_t now = now_ns();
        seen = now;
        if (to_broker) to_broker[got] = stamp >= 0 ? stamp - sent : -1;
        latencies[got++] = now - sent;
    }
    zmq_msg_close(&m);
    pthread_join(t, NULL);
    *received = got;
    close_all(ctx, pub, sub);
    return 0;
}

/// The seq-less index of an event id "b<n>" (`id` points at the id's bytes), or -1.
static long id_index(const char *id, size_t length, uint64_t id_base, uint64_t count) {
    char text[32];
    if (length < 2 || length >= sizeof text || id[0] != 'b') return -1;
    memcpy(text, id + 1, length - 1);
    text[length - 1] = 0;
    long index = atol(text) - (long)id_base;
    return index >= 0 && (uint64_t)index < count ? index : -1;
}

static void put_u32(unsigned char *at, uint32_t v) {
    at[0] = (unsigned char)(v >> 24), at[1] = (unsigned char)(v >> 16), at[2] = (unsigned char)(v >> 8),
    at[3] = (unsigned char)v;
}

typedef struct {
    void *sub;
    uint64_t count;
    uint64_t got;
} count_job;

/// Counts `bench.acked` events on a live SUB until `count` or 2 s without one.
static void *count_loop(void *arg) {
    count_job *job = arg;
    char topic[64];
    size_t tl;
    int timeout = 100;
    zmq_setsockopt(job->sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    int64_t last = now_ns();
    while (job->got < job->count && now_ns() - last < 2000000000LL) {
        if (recv_message(job->sub, topic, sizeof topic, &tl, NULL, 0, 0) < 0) continue;
        if (!is_topic(topic, tl, "bench.acked")) continue;
        last = now_ns();
        job->got++;
    }
    return NULL;
}

int metro_bench_acked(const char *ingest, uint64_t id_base, uint64_t count, int window, int batch, int packed,
                      uint64_t rate, size_t size, double *seconds, int64_t *latencies, const char *events,
                      uint64_t *delivered) {
    void *ctx = zmq_ctx_new();
    // With `events`: a subscriber to the acknowledged events, live (its hello
    // seen, protocol.md §4.4.2) before the first publish, counting on a thread.
    void *sub = NULL;
    pthread_t counter;
    count_job job = {NULL, count, 0};
    if (events) {
        sub = zmq_socket(ctx, ZMQ_SUB);
        int zero = 0, wait = 5000;
        zmq_setsockopt(sub, ZMQ_RCVHWM, &zero, sizeof zero);
        zmq_setsockopt(sub, ZMQ_RCVTIMEO, &wait, sizeof wait);
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "bench.acked", 11);
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "$metro.hello.bench", 18);
        zmq_connect(sub, events);
        char topic[64];
        size_t tl;
        if (recv_message(sub, topic, sizeof topic, &tl, NULL, 0, 0) < 0) return -1;
        job.sub = sub;
        pthread_create(&counter, NULL, count_loop, &job);
    }
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_connect(d, ingest);
    int64_t *sent_at = calloc(count, sizeof(int64_t));
    char *payload = calloc(1, size);
    uint64_t next = 0, acked = 0;
    int64_t start = now_ns();
    char id[32];
    if (batch < 1) batch = 1;
    // A packed event: u8 id length, id, u8 topic length, topic, u32 headers length
    // (0), u32 payload length, payload.
    unsigned char *packet = malloc((size_t)batch * (size + 64));
    while (acked < count) {
        // Send what the window allows, in PUBLISHes of up to `batch` events (§4.2.1).
        while (next < count && next - acked < (uint64_t)window) {
            if (rate && now_ns() < start + (int64_t)(next * 1000000000ULL / rate)) break;
            uint64_t room = (uint64_t)window - (next - acked), left = count - next;
            uint64_t k = room < left ? room : left;
            if (k > (uint64_t)batch) k = (uint64_t)batch;
            if (rate) k = 1;
            zmq_send(d, "metro/1", 7, ZMQ_SNDMORE);
            if (packed) {
                size_t at = 0;
                for (uint64_t j = 0; j < k; j++) {
                    int n = snprintf(id, sizeof id, "b%llu", (unsigned long long)(id_base + next));
                    sent_at[next] = now_ns();
                    packet[at++] = (unsigned char)n;
                    memcpy(packet + at, id, (size_t)n), at += (size_t)n;
                    packet[at++] = 11;
                    memcpy(packet + at, "bench.acked", 11), at += 11;
                    put_u32(packet + at, 0), at += 4;
                    put_u32(packet + at, (uint32_t)size), at += 4;
                    memcpy(packet + at, payload, size), at += size;
                    next++;
                }
                zmq_send(d, "PUBLISH-PACKED", 14, ZMQ_SNDMORE);
                zmq_send(d, packet, at, 0);
                continue;
            }
            zmq_send(d, "PUBLISH", 7, ZMQ_SNDMORE);
            for (uint64_t j = 0; j < k; j++) {
                int n = snprintf(id, sizeof id, "b%llu", (unsigned long long)(id_base + next));
                sent_at[next] = now_ns();
                zmq_send(d, id, (size_t)n, ZMQ_SNDMORE);
                zmq_send(d, "bench.acked", 11, ZMQ_SNDMORE);
                zmq_send(d, "", 0, ZMQ_SNDMORE);
                zmq_send(d, payload, size, j + 1 < k ? ZMQ_SNDMORE : 0);
                next++;
            }
        }
        zmq_pollitem_t item = {d, 0, ZMQ_POLLIN, 0};
        long wait = 1;
        if (zmq_poll(&item, 1, (next < count && rate) ? wait : 2000) <= 0) {
            if (next < count && rate) continue;
            break;  // 2 s without an ACK: give up
        }
        // Reply: ["metro/1"]["ACK"]([id][seq])+: frames 2, 4, ... are ids; or
        // ["metro/1"]["ACK-PACKED"][(u8 length, id, u64 seq)+].
        zmq_msg_t m;
        zmq_msg_init(&m);
        int frame = 0, packed_reply = 0;
        while (zmq_msg_recv(&m, d, ZMQ_DONTWAIT) >= 0) {
            const char *data = zmq_msg_data(&m);
            size_t length = zmq_msg_size(&m);
            if (frame == 1) packed_reply = length == 10 && memcmp(data, "ACK-PACKED", 10) == 0;
            if (frame == 2 && packed_reply) {
                for (size_t at = 0; at < length;) {
                    size_t n = (unsigned char)data[at];
                    long index = id_index(data + at + 1, n, id_base, count);
                    if (index >= 0 && latencies && acked < count) latencies[acked] = now_ns() - sent_at[index];
                    acked++;
                    at += 1 + n + 8;
                }
            } else if (frame >= 2 && frame % 2 == 0 && !packed_reply) {
                long index = id_index(data, length, id_base, count);
                if (index >= 0 && latencies && acked < count) latencies[acked] = now_ns() - sent_at[index];
                acked++;
            }
            frame++;
            if (!zmq_msg_more(&m)) frame = 0;
        }
        zmq_msg_close(&m);
    }
    *seconds = (double)(now_ns() - start) / 1e9;
    if (sub) {
        pthread_join(counter, NULL);
        if (delivered) *delivered = job.got;
        int zero = 0;
        zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(sub);
    }
    free(sent_at);
    free(payload);
    free(packet);
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(d);
    zmq_ctx_term(ctx);
    return acked == count ? 0 : -1;
}

const char *metro_bench_zmq_version(void) {
    static char text[32];
    int a, b, c;
    zmq_version(&a, &b, &c);
    snprintf(text, sizeof text, "%d.%d.%d", a, b, c);
    return text;
}

/// The fan-out shape (issue 18 target 4): `subscribers` SUB sockets, each with a
/// prefix subscription to every one of `topics` distinct topics ("f.00000",
/// "f.00001", ...), so that each event reaches every subscriber; one publisher
/// sends `count` events cycling over the topics. One thread reads every
/// subscriber (zmq_poll), so the delivered rate is also this reader's; the
/// broker's CPU per delivered event is what the bench compares.
int metro_bench_fanout(const char *publish, const char *events, uint64_t count, size_t size, int subscribers,
                       int topics, uint64_t *delivered, double *seconds) {
    void *ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_IO_THREADS, 2);
    int zero = 0;
    void **subs = calloc((size_t)subscribers, sizeof(void *));
    zmq_pollitem_t *items = calloc((size_t)subscribers, sizeof(zmq_pollitem_t));
    char name[32];
    for (int s = 0; s < subscribers; s++) {
        subs[s] = zmq_socket(ctx, ZMQ_SUB);
        zmq_setsockopt(subs[s], ZMQ_RCVHWM, &zero, sizeof zero);
        // On connect a SUB sends its whole subscription set, in trie order, into a
        // pipe of ZMQ_SNDHWM messages and silently drops what does not fit: with the
        // default 1,000, most of 10,000 subscriptions (and "warm", sorted last) were lost.
        zmq_setsockopt(subs[s], ZMQ_SNDHWM, &zero, sizeof zero);
        zmq_setsockopt(subs[s], ZMQ_SUBSCRIBE, "warm", 4);
        for (int t = 0; t < topics; t++) {
            int n = snprintf(name, sizeof name, "f.%05d", t);
            zmq_setsockopt(subs[s], ZMQ_SUBSCRIBE, name, (size_t)n);
        }
        zmq_connect(subs[s], events);
        items[s].socket = subs[s];
        items[s].events = ZMQ_POLLIN;
    }
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    zmq_setsockopt(pub, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_connect(pub, publish);
    // Warm up until every subscriber has seen one message (its subscriptions are
    // then in place: they travel in order before the warm-up's own prefix).
    char *seen = calloc((size_t)subscribers, 1);
    int ready = 0;
    char topic[64];
    size_t tl;
    while (ready < subscribers) {
        zmq_send(pub, "warm", 4, ZMQ_SNDMORE);
        zmq_send(pub, "x", 1, 0);
        if (zmq_poll(items, subscribers, 10) <= 0) continue;
        for (int s = 0; s < subscribers; s++) {
            while (recv_message(subs[s], topic, sizeof topic, &tl, NULL, 0, ZMQ_DONTWAIT) > 0) {
                if (!seen[s]) { seen[s] = 1; ready++; }
            }
        }
    }
    sleep_until(now_ns() + 100000000LL);  // the warm-ups still on their way, then drained
    for (int s = 0; s < subscribers; s++) {
        while (recv_message(subs[s], topic, sizeof topic, &tl, NULL, 0, ZMQ_DONTWAIT) > 0) {}
    }
    char *payload = calloc(1, size < 8 ? 8 : size);
    uint64_t want = count * (uint64_t)subscribers, got = 0;
    int64_t first = 0, last = now_ns();
    uint64_t sent = 0;
    // Publish and read in one thread, in slices, so that 2 cores are not shared by
    // a third busy thread: at most 1,000 events ahead of what was read back.
    while (got < want && now_ns() - last < 2000000000LL) {
        while (sent < count && sent * (uint64_t)subscribers < got + 1000ULL * (uint64_t)subscribers) {
            int n = snprintf(name, sizeof name, "f.%05d", (int)(sent % (uint64_t)topics));
            zmq_send(pub, name, (size_t)n, ZMQ_SNDMORE);
            zmq_send(pub, payload, size, 0);
            sent++;
        }
        if (zmq_poll(items, subscribers, 100) <= 0) continue;
        for (int s = 0; s < subscribers; s++) {
            if (!(items[s].revents & ZMQ_POLLIN)) continue;
            while (recv_message(subs[s], topic, sizeof topic, &tl, NULL, 0, ZMQ_DONTWAIT) > 0) {
                if (tl < 2 || memcmp(topic, "f.", 2) != 0) continue;
                last = now_ns();
                if (got++ == 0) first = last;
            }
        }
    }
    *delivered = got;
    *seconds = (double)(last - first) / 1e9;
    zmq_setsockopt(pub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(pub);
    for (int s = 0; s < subscribers; s++) {
        zmq_setsockopt(subs[s], ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(subs[s]);
    }
    zmq_ctx_term(ctx);
    free(payload);
    free(seen);
    free(items);
    free(subs);
    return 0;
}
