#include "cbench.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

struct pub_args {
    void *ctx;
    char endpoint[256];
    int count;
    int size;
    atomic_int live;
    int rc;
};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *publisher(void *p) {
    struct pub_args *a = p;
    void *pub = zmq_socket(a->ctx, ZMQ_PUB);
    int zero = 0;
    zmq_setsockopt(pub, ZMQ_SNDHWM, &zero, sizeof zero);
    if (zmq_connect(pub, a->endpoint) != 0) { a->rc = -1; zmq_close(pub); return NULL; }
    char *buf = calloc(1, (size_t)a->size);
    // Warm-up probes (first byte 0) until the subscriber says its subscription is live.
    while (!atomic_load(&a->live)) {
        buf[0] = 0;
        zmq_send(pub, buf, (size_t)a->size, 0);
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    buf[0] = 1;
    for (int i = 0; i < a->count; i++) {
        if (zmq_send(pub, buf, (size_t)a->size, 0) < 0) { a->rc = -1; break; }
    }
    free(buf);
    zmq_close(pub);
    return NULL;
}

double metro_cbench_pubsub(int count, int size) {
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    if (zmq_bind(sub, "tcp://127.0.0.1:*") != 0) return -1;

    struct pub_args a;
    memset(&a, 0, sizeof a);
    a.ctx = ctx; a.count = count; a.size = size;
    atomic_init(&a.live, 0);
    size_t len = sizeof a.endpoint;
    zmq_getsockopt(sub, ZMQ_LAST_ENDPOINT, a.endpoint, &len);

    pthread_t thread;
    pthread_create(&thread, NULL, publisher, &a);

    zmq_msg_t msg;
    zmq_msg_init(&msg);
    int received = 0;
    double start = 0, end = 0;
    while (received < count) {
        if (zmq_msg_recv(&msg, sub, 0) < 0) break;
        const unsigned char *data = zmq_msg_data(&msg);
        if (data[0] == 0) { atomic_store(&a.live, 1); continue; }
        if (received == 0) start = now_seconds();
        received++;
    }
    end = now_seconds();
    zmq_msg_close(&msg);
    pthread_join(thread, NULL);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    if (a.rc != 0 || received < count || end <= start) return -1;
    return (double)(count - 1) / (end - start);
}
