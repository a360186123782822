// C side of metro-broker-bench: libzmq's own zmq_proxy as the yardstick, and
// C publisher/subscriber/acknowledged-publish loops, so that the benchmark
// measures the broker and not the load generator.
#ifndef METRO_PROXY_BASELINE_H
#define METRO_PROXY_BASELINE_H

#include <stddef.h>
#include <stdint.h>

/// Binds XSUB on `frontend` and XPUB on `backend`, prints one line
/// `ready {"publish":"...","events":"..."}` on stdout, then runs zmq_proxy
/// until the process is killed. Returns only on error (-1).
int metro_proxy_serve(const char *frontend, const char *backend);
/// Like `metro_proxy_serve`, but a forwarding loop of its own (zmq_poll, up to
/// 1000 messages per readiness, as zmq_proxy does) that inserts an `envelope`-byte
/// frame (a counter and a clock, no journal) after the topic of every event: the
/// broker's fan-out shape (protocol.md §4.4) at the least cost C can give it.
int metro_forward_serve(const char *frontend, const char *backend, size_t envelope);

/// Like `metro_forward_serve`, but in the two-frame form issue 18 (target 5)
/// asks to price: the envelope goes inside the topic frame, after a 0x00 byte
/// (which topics cannot hold, protocol.md §2.4), so each event stays
/// [topic 0x00 envelope][payload] and prefix subscriptions still match.
int metro_forward_inline_serve(const char *frontend, const char *backend, size_t envelope);

/// Fire-and-forget throughput: a PUB on `publish` sends `count` messages
/// [topic "bench"][payload of `size` bytes] as fast as it can; a SUB on `events`
/// counts them. With `middle` > 0 each message carries a third frame of that many
/// bytes between topic and payload (the shape of the broker's fan-out, §4.4).
/// Warms both connections up first (no sleeps). `seconds` is the time from the
/// subscriber's first to last bench message.
int metro_bench_throughput(const char *publish, const char *events, uint64_t count, size_t size, size_t middle,
                           uint64_t *received, double *seconds);

/// End-to-end latency at `rate` messages/s: each payload carries its send time;
/// writes one latency (ns) per received message into `latencies` (capacity `count`),
/// and into `to_broker` (if not NULL) the part until the broker's stamp (§4.4), or
/// -1 for a message without one (zmq_proxy's).
int metro_bench_latency(const char *publish, const char *events, uint64_t count, uint64_t rate, size_t size,
                        int64_t *latencies, int64_t *to_broker, uint64_t *received);

/// Acknowledged publish (protocol.md §4.2) through a DEALER with `window` events in
/// flight, sent `batch` events per PUBLISH at most (§4.2.1; 1 = one per PUBLISH);
/// `packed` sends PUBLISH-PACKED instead, the batch in one frame (§4.2.6).
/// Event ids are "b<id_base + i>" (distinct bases give distinct ids). `rate` 0 sends as fast as the window allows; otherwise paced, one per PUBLISH. Writes
/// each publish-to-ACK latency (ns) into `latencies` when not NULL. With `events`
/// (the broker's events endpoint), a subscriber that is live before the first
/// publish counts the events delivered into `delivered`.
int metro_bench_acked(const char *ingest, uint64_t id_base, uint64_t count, int window, int batch, int packed,
                      uint64_t rate, size_t size, double *seconds, int64_t *latencies, const char *events,
                      uint64_t *delivered);

/// The disk's limit for window-1 acknowledged publish: writes `count` records of
/// `record` bytes one after another into a file in `directory` whose zeros were
/// written and synced ahead (as the journal's zero fill does), each followed by
/// `fdatasync`, and stores each sync's duration (ns) in `durations`. 0, or -1 on
/// an I/O error.
int metro_bench_fdatasync(const char *directory, uint64_t count, size_t record, int64_t *durations);

/// The floors under window-1 acknowledged publish (sync_server.c). A ROUTER
/// bound on loopback that answers each metro/1 PUBLISH with ACK after writing
/// and fdatasyncing it into a file in `directory`; prints
/// `ready {"ingest":"..."}`. Returns only on error (-1). With `handoff` it
/// takes the broker's shape instead: a loop polling the ROUTER and a pipe, the
/// fdatasync on a thread of its own that wakes the loop when done.
int metro_sync_serve_zmq(const char *directory, int handoff);
/// The same over plain TCP: each request is `record` bytes, written and
/// synced, answered with 8 bytes. Prints `ready {"port":"..."}`.
int metro_sync_serve_tcp(const char *directory, size_t record);
/// The client of `metro_sync_serve_tcp`: `count` requests one at a time.
int metro_bench_tcp_sync(int port, uint64_t count, size_t record, double *seconds, int64_t *latencies);

/// The fan-out shape: `subscribers` SUBs, each subscribed to `topics` distinct
/// topics (one prefix each), one publisher cycling over them; `delivered` counts
/// messages received by all subscribers together (protocol.md §4.4 for the broker).
int metro_bench_fanout(const char *publish, const char *events, uint64_t count, size_t size, int subscribers,
                       int topics, uint64_t *delivered, double *seconds);

/// "4.3.4": the libzmq loaded at run time.
const char *metro_bench_zmq_version(void);

#endif
