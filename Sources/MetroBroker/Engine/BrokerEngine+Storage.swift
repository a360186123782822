import Logging
import MetroProtocol
import Synchronization
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// When the broker writes the journal (`endBatch`: group commit, held small
/// batches, write retry), what it does when its disk fails (protocol.md §4.2.7),
/// and how it stops. Loop thread only.
///
/// Two kinds of failure, two answers:
/// - a failed *write* (ENOSPC, EDQUOT, EIO from `pwrite`) loses nothing: the
///   records stay in the journal's buffer and are written again (`Journal.flush`).
///   The ACKs waiting for them are answered with ERROR 205, and the broker keeps
///   serving replay, groups and stats on what is written, and takes events again
///   by itself once a write succeeds (`endBatch`);
/// - a failed *sync* (fdatasync/fsync of the journal, the seq reservation or the
///   group state) means the page cache's state is unknown: the kernel may have
///   dropped the dirty pages, and a later sync that "succeeds" proves nothing
///   (PostgreSQL's fsync lesson). So nothing is ever synced or ACKed again: every
///   waiting ACK gets ERROR 205, the loop ends, and the process exits with
///   status 74 (EX_IOERR) for its supervisor to restart it; recovery then checks
///   the journal by its checksums.
extension BrokerEngine {
    /// The exit status of `metro broker` after a storage failure (EX_IOERR, sysexits.h).
    package static let exitStatusStorageFailure: Int32 = 74

    /// Flushes the batch to the journal, then ACKs what the fsync policy allows.
    ///
    /// A small batch that nobody waits for (no ACK queued, no replay or group
    /// reading the journal) is held up to `flushDelayNs` and written with what
    /// follows: at 10k events/s that is one write per millisecond instead of two
    /// per event, and the loop is back in poll (letting the I/O thread send) sooner.
    /// `force`: write now (a replay or a group is about to read the journal).
    /// A failed write (a full disk) leaves the records buffered and their waiting
    /// ACKs answered with ERROR 205 (`writeFailed`); the loop writes them again when
    /// a publisher waits for an ACK, else every `writeRetryNs`, and takes events
    /// again once a write succeeds.
    func endBatch(force: Bool = false) throws {
        guard storageFailure == nil, journal.lastSeq > journal.writtenSeq else { return }
        if acks.waitingCount == 0 {
            if writeRetryAt != 0 {
                flushDeadline = writeRetryAt
                if clock() < writeRetryAt { return }
            } else if !force && replays.isEmpty && groups.isEmpty && journal.bufferedBytes < Self.heldFlushBytes {
                let now = clock()
                if flushDeadline == 0 { flushDeadline = now &+ Self.flushDelayNs }
                if now < flushDeadline { return }
            }
        }
        flushDeadline = 0
        do {
            try journal.flush()
        } catch {
            writeFailed(error)
            return
        }
        if writeRetryAt != 0 {
            writeRetryAt = 0
            logger.notice("journal writes succeed again: taking events")
        }
        let token = acks.flushed(writtenSeq: journal.writtenSeq)
        syncer?.request(token: token, for: journal, notify: acks.waitingCount > 0)
        if configuration.journal.fsync != .always { sendAcks(upTo: token) }
    }

    /// A sync failed: answer every waiting ACK with ERROR 205 and end the loop.
    /// Idempotent.
    func failStorage(_ error: JournalError) {
        guard storageFailure == nil else { return }
        storageFailure = error
        logger.critical(
            "storage failure: a sync failed, so nothing more can be called durable; answering every waiting ACK with ERROR 205 and exiting with status \(Self.exitStatusStorageFailure) (recovery checks the journal at the next start)",
            metadata: ["error": "\(error)"])
        failPendingAcks(WireError(.storageFailure, "the broker's disk failed to sync: not acknowledged"))
        stopping.store(true, ordering: .releasing)
    }

    /// A journal flush failed. A sync failure inside it is a storage failure; a
    /// write failure refuses the waiting ACKs and schedules the next try.
    func writeFailed(_ error: JournalError) {
        if error.isSyncFailure { return failStorage(error) }
        let now = clock()
        if writeRetryAt == 0 || storageLogAllows(now) {
            logger.error(
                "journal write failed: refusing acknowledged publishes with ERROR 205 until a write succeeds",
                metadata: ["error": "\(error)"])
        }
        writeRetryAt = now &+ Self.writeRetryNs
        failPendingAcks(WireError(.storageFailure, "the broker's disk refused the write: not stored"))
    }

    /// An append failed (its flush, or the seq reservation): the event is refused.
    func appendFailed(_ error: JournalError) {
        if error.isSyncFailure { return failStorage(error) }
        if storageLogAllows(clock()) { logger.error("journal append failed: \(error)") }
    }

    private func storageLogAllows(_ now: UInt64) -> Bool {
        guard let held = storageLog.allow(now: now) else { return false }
        if held > 0 { logger.error("\(held) storage errors not logged in the last second") }
        return true
    }

    /// Ends the loop: writes and syncs what it can, sends the ACKs that became
    /// durable, records the last seq (a clean restart then has no gap), closes the
    /// sockets with their linger (which also delivers the ERRORs just queued).
    /// After a storage failure it writes and syncs nothing and records no seq.
    func shutdown() {
        scrubber?.stop()
        if storageFailure == nil {
            logger.info("broker stopping: flushing the journal")
            stopCleanly()
        } else {
            syncer?.stop()
            journal.abandon()
        }
        for m in monitors { m.socket.close() }
        ingest.close()
        publish.close()
        fanOut.events.close()
        consume.close()
        if storageFailure != nil {
            logger.critical("broker stopped after a storage failure", metadata: ["headSeq": "\(log.headSeq)"])
        } else {
            logger.info("broker stopped", metadata: ["headSeq": "\(log.headSeq)"])
        }
        dataLock.release()
    }

    private func stopCleanly() {
        do throws(JournalError) {
            try journal.flush()
            let token = acks.flushed(writtenSeq: journal.writtenSeq)
            syncer?.request(token: token, for: journal)
            syncer?.stop()
            // Under `always` ACKs wait for the syncer's word (or its failure).
            if syncer != nil && configuration.journal.fsync == .always {
                sendDurableAcks()
            } else {
                sendAcks(upTo: token)
            }
        } catch {
            syncer?.stop()
            writeFailed(error)
        }
        if storageFailure == nil && !groups.isEmpty { groups.save(now: clock()) }
        guard storageFailure == nil else { return journal.abandon() }
        do throws(JournalError) {
            try journal.close()
            try log.reservation.closeCleanly(last: log.headSeq)
        } catch {
            if error.isSyncFailure { failStorage(error) } else { logger.error("journal close failed: \(error)") }
        }
    }
}
