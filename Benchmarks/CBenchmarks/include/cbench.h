#ifndef METRO_CBENCH_H
#define METRO_CBENCH_H

// Baselines written in plain C against libzmq, so that the Swift wrapper and the
// broker are measured against libzmq itself in the same run.

/// PUB -> SUB over TCP loopback in one process (publisher on its own thread).
/// Sends `count` messages of `size` bytes after the subscription is live and
/// returns the subscriber's rate in messages per second (first to last message),
/// or a negative number on error.
double metro_cbench_pubsub(int count, int size);

#endif
