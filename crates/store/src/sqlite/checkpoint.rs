//! WAL checkpoints off the writer's path.
//!
//! A commit appends the changed pages to the write-ahead log; a checkpoint copies them back into
//! the database file and syncs it. Left to SQLite, the writer runs the checkpoint itself inside the
//! commit that takes the log past `wal_autocheckpoint` pages, and every intake and engine commit
//! behind it waits. Here a task on a read connection copies the log back every
//! [`CHECKPOINT_EVERY`] (a `PASSIVE` checkpoint: it never waits for, nor blocks, the writer), so the
//! writer's own checkpoint, still there as a backstop at [`WRITER_CHECKPOINT_PAGES`], finds almost
//! every page already copied and only restarts the log. Durability does not depend on any of
//! this: a committed transaction is in the synced log whether or not it was checkpointed.

use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::task::JoinHandle;

/// How often the log is copied back while it holds anything.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// How long the task sleeps while the log is empty.
const IDLE_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Log pages at which the writer checkpoints itself (SQLite's default is 1,000): high enough that
/// the background task gets there first, low enough that the log stays a few megabytes.
pub(super) const WRITER_CHECKPOINT_PAGES: u32 = 4_000;

/// The checkpointing task; dropping the last clone of the store stops it.
#[derive(Debug)]
pub(super) struct Checkpoints(JoinHandle<()>);

impl Checkpoints {
    /// Starts checkpointing the database `pool` reads from.
    pub(super) fn spawn(pool: SqlitePool) -> Arc<Checkpoints> {
        Arc::new(Checkpoints(tokio::spawn(checkpoint_while_open(pool))))
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn checkpoint_while_open(pool: SqlitePool) {
    let mut pause = CHECKPOINT_EVERY;
    loop {
        tokio::time::sleep(pause).await;
        if pool.is_closed() {
            return;
        }
        // (busy, pages in the log, pages copied back); busy only means another checkpoint runs.
        let done: Result<(i64, i64, i64), sqlx::Error> =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&pool)
                .await;
        pause = match done {
            Ok((_, 0, _)) => IDLE_CHECK_EVERY,
            Ok(_) => CHECKPOINT_EVERY,
            Err(_) if pool.is_closed() => return,
            Err(error) => {
                // The writer's own checkpoint still keeps the log bounded.
                tracing::warn!(%error, "could not checkpoint the database's write-ahead log");
                IDLE_CHECK_EVERY
            }
        };
    }
}
