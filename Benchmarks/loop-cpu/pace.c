// Paced fire-and-forget publisher for loop-cpu.sh: RATE events/s of 100 bytes for SECONDS
// to a PUB endpoint (the broker's publish socket). cc -O2 -o pace pace.c -lzmq
#include <zmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
    const char *ep = argv[1]; int rate = atoi(argv[2]); double secs = atof(argv[3]);
    void *ctx = zmq_ctx_new(); void *pub = zmq_socket(ctx, ZMQ_PUB);
    int hwm = 1000000; zmq_setsockopt(pub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_connect(pub, ep);
    struct timespec w = {0, 300000000}; nanosleep(&w, 0);  // slow joiner
    char payload[100]; memset(payload, 'x', sizeof payload);
    double start = now(); long sent = 0;
    while (1) {
        double t = now() - start; if (t >= secs) break;
        long due = (long)(t * rate);
        while (sent < due) {
            zmq_send(pub, "bench.load", 10, ZMQ_SNDMORE); zmq_send(pub, payload, sizeof payload, 0); sent++;
        }
        struct timespec s = {0, 200000}; nanosleep(&s, 0);
    }
    printf("sent %ld\n", sent);
    zmq_close(pub); zmq_ctx_term(ctx); return 0;
}
