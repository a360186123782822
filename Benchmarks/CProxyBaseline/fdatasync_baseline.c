// The disk's own limit for window-1 acknowledged publish (issue 18, target 7):
// how long one fdatasync takes on the journal's filesystem for what the broker
// syncs per event at window 1, with nothing else in the way.
#define _GNU_SOURCE
#include "proxy_baseline.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int metro_bench_fdatasync(const char *directory, uint64_t count, size_t record, int64_t *durations) {
    char path[4096];
    snprintf(path, sizeof path, "%s/fdatasync-baseline.%d", directory, (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    // Zeros written and synced ahead, as the broker's zero fill keeps them under
    // `fsync: always` (protocol.md Appendix B): each sync then commits data, not
    // a new file size or extent.
    size_t span = (size_t)count * record + 4096;
    char *zeros = calloc(1, 256 << 10);
    int rc = 0;
    for (size_t at = 0; at < span && rc == 0; at += 256 << 10) {
        if (pwrite(fd, zeros, 256 << 10, (off_t)at) != 256 << 10) rc = -1;
    }
    if (rc == 0 && fdatasync(fd) != 0) rc = -1;
    char *data = malloc(record);
    memset(data, 0x5a, record);
    for (uint64_t i = 0; i < count && rc == 0; i++) {
        if (pwrite(fd, data, record, (off_t)(i * record)) != (ssize_t)record) {
            rc = -1;
            break;
        }
        int64_t t0 = mono_ns();
        if (fdatasync(fd) != 0) rc = -1;
        durations[i] = mono_ns() - t0;
    }
    free(data);
    free(zeros);
    close(fd);
    unlink(path);
    return rc;
}
