import GRDB

/// The runtime's own tables, migrated before the service's .
///
/// - `metro_inbox`: one row per event whose effect committed, per consumer group;
///   its primary key is (group, event id), so a redelivered event's INSERT finds it
///   and its effect is skipped. The group is part of the key because one service
///   may have two handlers whose topic prefixes overlap: each group gets the event
///   once, and each handler's effect must happen (a first design keyed the inbox by the
///   event id alone, which would have skipped the second handler's effect).
/// - `metro_outbox`: events written in a transaction and not yet (known to be)
///   published. `event_id` is a UUID made in the transaction, unique across
///   services, and the relay publishes with it as the event id: a re-send after a
///   crash is dropped by the broker's dedupe window. `seq` orders the relay.
///
/// Both would grow with every event for ever: `RuntimeRetention` deletes inbox
/// rows whose event the journal no longer holds (by `seq`, `metro-runtime-3`)
/// and sent outbox rows older than the outbox retention (`metro-runtime-2`).
enum RuntimeSchema {
    static func register(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("metro-runtime-1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE metro_inbox (
                        consumer_group TEXT NOT NULL,
                        event_id BLOB NOT NULL,
                        topic TEXT NOT NULL,
                        handled_at REAL NOT NULL,
                        PRIMARY KEY (consumer_group, event_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE metro_outbox (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        event_id TEXT NOT NULL UNIQUE,
                        topic TEXT NOT NULL,
                        headers BLOB NOT NULL,
                        payload BLOB NOT NULL,
                        created_at REAL NOT NULL,
                        sent_at REAL
                    );
                    CREATE INDEX metro_outbox_unsent ON metro_outbox(seq) WHERE sent_at IS NULL;
                    """)
        }
        // Retention (`RuntimeRetention`): the sent outbox rows to delete, found by age.
        migrator.registerMigration("metro-runtime-2-retention") { db in
            try db.execute(
                sql: """
                    CREATE INDEX metro_outbox_sent ON metro_outbox(sent_at) WHERE sent_at IS NOT NULL;
                    """)
        }
        // The journal seq of the event (the highest, when a duplicate came with a new
        // one): the retention deletes only rows whose event the journal no longer holds.
        migrator.registerMigration("metro-runtime-3-inbox-seq") { db in
            try db.execute(
                sql: """
                    ALTER TABLE metro_inbox ADD COLUMN seq INTEGER;
                    CREATE INDEX metro_inbox_seq ON metro_inbox(seq);
                    """)
        }
    }
}
