// An LD_PRELOAD library that makes a process's disk fail on demand, for the
// broker's disk-failure tests (docs/operations.md, "When the disk fails").
// Built by SwiftPM as the dynamic library product MetroFaultInject
// (libMetroFaultInject.so next to the `metro` binary); MetroTestKit's
// FaultInjection and `metro soak --chaos` preload it.
//
// Only descriptors whose path (readlink of /proc/self/fd/N) contains
// METRO_FAULT_PATH are touched, so libzmq's eventfds, pipes and sockets never are.
// Each fault is switched by a flag file, so a test turns it on and off while the
// process runs:
//   METRO_FAULT_SYNC_EIO=<file>     while <file> exists, fsync/fdatasync return EIO
//   METRO_FAULT_PWRITE_ENOSPC=<file> while <file> exists, pwrite writes half of what
//                                   it is given (a real full disk gives short writes
//                                   first), and -1/ENOSPC once one byte is left, so
//                                   the failed write leaves a torn record behind.
//                                   write(2) does the same to files this process
//                                   opened for writing (open/openat here mark their
//                                   descriptors, so a write to a socket or an eventfd,
//                                   libzmq's signal, costs one array load and no
//                                   syscall): blobs, scratch files, ffmpeg's outputs.
//                                   If <file> holds text, its first line replaces
//                                   METRO_FAULT_PATH for this fault: one preload
//                                   into a whole `metro up` (`metro soak --chaos`)
//                                   fills the disk of whichever process's files
//                                   the flag names (".seg", "/profiles/profiles.sqlite").
//   METRO_FAULT_OPEN_EMFILE=<file>  while <file> exists, opening a matching path
//                                   read-only (a reader: replay, a group's cursor)
//                                   fails with EMFILE, as when the process is out
//                                   of descriptors; writers' opens are untouched.
// Every injected fault is reported on stderr ("faultinject: ...").
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static int target_matches_filter(int fd, char *target, size_t size, const char *want) {
    if (want == NULL || *want == 0) return 0;
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, size - 1);
    if (n <= 0) return 0;
    target[n] = 0;
    return strstr(target, want) != NULL;
}

static int target_matches(int fd, char *target, size_t size) {
    return target_matches_filter(fd, target, size, getenv("METRO_FAULT_PATH"));
}

// Whether the flag file named by `variable` exists; if so, its first line (if any)
// in `filter`, else METRO_FAULT_PATH. Opened with the raw syscall, so that this
// library's own `open` is not entered.
static int flag_filter(const char *variable, char *filter, size_t size) {
    const char *path = getenv(variable);
    if (path == NULL || *path == 0) return 0;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = (ssize_t)syscall(SYS_read, fd, filter, size - 1);
    (void)syscall(SYS_close, fd);
    if (n < 0) n = 0;
    filter[n] = 0;
    char *end = strchr(filter, '\n');
    if (end != NULL) *end = 0;
    if (*filter == 0) {
        const char *want = getenv("METRO_FAULT_PATH");
        if (want == NULL) return 0;
        snprintf(filter, size, "%s", want);
    }
    return 1;
}

static int flag_on(const char *variable) {
    const char *path = getenv(variable);
    return path != NULL && *path != 0 && access(path, F_OK) == 0;
}

static void report(const char *call, const char *what, const char *target) {
    char line[4200];
    int n = snprintf(line, sizeof line, "faultinject: %s %s on %s\n", call, what, target);
    if (n > 0) (void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static int failing_sync(int fd, const char *call) {
    char target[4096];
    if (!flag_on("METRO_FAULT_SYNC_EIO") || !target_matches(fd, target, sizeof target)) return 0;
    report(call, "EIO", target);
    errno = EIO;
    return 1;
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    if (failing_sync(fd, "fdatasync")) return -1;
    return real(fd);
}

int fsync(int fd) {
    static int (*real)(int);
    if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    if (failing_sync(fd, "fsync")) return -1;
    return real(fd);
}

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);

static ssize_t faulty_pwrite(pwrite_fn real, int fd, const void *buf, size_t count, off_t offset) {
    char target[4096];
    char filter[512];
    if (count == 0 || !flag_filter("METRO_FAULT_PWRITE_ENOSPC", filter, sizeof filter)
        || !target_matches_filter(fd, target, sizeof target, filter)) {
        return real(fd, buf, count, offset);
    }
    if (count >= 2) return real(fd, buf, count / 2, offset);
    report("pwrite", "ENOSPC", target);
    errno = ENOSPC;
    return -1;
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    static pwrite_fn real;
    if (real == NULL) real = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
    return faulty_pwrite(real, fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
    static pwrite_fn real;
    if (real == NULL) real = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite64");
    return faulty_pwrite(real, fd, buf, count, offset);
}

typedef ssize_t (*write_fn)(int, const void *, size_t);

// Descriptors this process opened for writing through open/openat below. A stale
// mark (the number closed and reused for a socket) costs one flag check, never a
// wrong fault: the readlink of a socket never matches a path filter.
#define TRACKED_FDS 65536
static unsigned char opened_for_writing[TRACKED_FDS];

static int note_open(int fd, int flags) {
    if (fd >= 0 && fd < TRACKED_FDS) {
        __atomic_store_n(&opened_for_writing[fd], (flags & O_ACCMODE) != O_RDONLY, __ATOMIC_RELAXED);
    }
    return fd;
}

ssize_t write(int fd, const void *buf, size_t count) {
    static write_fn real;
    if (real == NULL) real = (write_fn)dlsym(RTLD_NEXT, "write");
    // fd 2 is where `report` writes; never a file opened here, but never risk recursion.
    if (fd <= 2 || fd >= TRACKED_FDS || !__atomic_load_n(&opened_for_writing[fd], __ATOMIC_RELAXED)) {
        return real(fd, buf, count);
    }
    char target[4096];
    char filter[512];
    if (count == 0 || !flag_filter("METRO_FAULT_PWRITE_ENOSPC", filter, sizeof filter)
        || !target_matches_filter(fd, target, sizeof target, filter)) {
        return real(fd, buf, count);
    }
    if (count >= 2) return real(fd, buf, count / 2);
    report("write", "ENOSPC", target);
    errno = ENOSPC;
    return -1;
}

// Only read-only opens of matching paths; the path is known, no readlink needed.
static int refusing_open(const char *path, int flags, const char *call) {
    if ((flags & O_ACCMODE) != O_RDONLY || path == NULL) return 0;
    const char *want = getenv("METRO_FAULT_PATH");
    if (want == NULL || *want == 0 || strstr(path, want) == NULL) return 0;
    if (!flag_on("METRO_FAULT_OPEN_EMFILE")) return 0;
    report(call, "EMFILE", path);
    errno = EMFILE;
    return 1;
}

static mode_t mode_argument(int flags, va_list ap) {
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);

// Each interposed open: refuse it (EMFILE) or call the real one, then mark a
// descriptor opened for writing. `at`: the openat form (with `dirfd`).
static int interposed_open(
    const char *name, void **real, int at, int dirfd, const char *path, int flags, mode_t mode) {
    if (*real == NULL) *real = dlsym(RTLD_NEXT, name);
    if (refusing_open(path, flags, name)) return -1;
    int fd = at ? ((openat_fn)*real)(dirfd, path, flags, mode) : ((open_fn)*real)(path, flags, mode);
    return note_open(fd, flags);
}

#define INTERPOSE_OPEN(name)                                                          \
    int name(const char *path, int flags, ...) {                                     \
        static void *real;                                                            \
        va_list ap;                                                                   \
        va_start(ap, flags);                                                          \
        mode_t mode = mode_argument(flags, ap);                                       \
        va_end(ap);                                                                   \
        return interposed_open(#name, &real, 0, AT_FDCWD, path, flags, mode);        \
    }

#define INTERPOSE_OPENAT(name)                                                        \
    int name(int dirfd, const char *path, int flags, ...) {                          \
        static void *real;                                                            \
        va_list ap;                                                                   \
        va_start(ap, flags);                                                          \
        mode_t mode = mode_argument(flags, ap);                                       \
        va_end(ap);                                                                   \
        return interposed_open(#name, &real, 1, dirfd, path, flags, mode);           \
    }

INTERPOSE_OPEN(open)
INTERPOSE_OPEN(open64)
INTERPOSE_OPENAT(openat)
INTERPOSE_OPENAT(openat64)

int creat(const char *path, mode_t mode) {
    static int (*real)(const char *, mode_t);
    if (real == NULL) real = (int (*)(const char *, mode_t))dlsym(RTLD_NEXT, "creat");
    return note_open(real(path, mode), O_WRONLY);
}
