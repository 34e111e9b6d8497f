//! The appender collectors run beside their reading: batches are appended on their own
//! task, one at a time and in order, so that reading and typing the next batch overlaps
//! writing the last one. At most one batch waits while another is being committed. Each
//! batch commits only while the stream's cursor is the one the collector resumed from or
//! the committer last committed, so a second collector running on the same ledger stops
//! with an error instead of committing the same records again.

use keytrail_ledger::{Batch, Ledger, LedgerError, StreamSchema};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A running appender for one stream.
pub(crate) struct Committer {
    batches: mpsc::Sender<Batch>,
    task: JoinHandle<Result<Committed, LedgerError>>,
}

/// Rows appended to the stream and to its rejected stream.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Committed {
    pub appended: u64,
    pub rejected: u64,
}

impl Committer {
    /// `resumes_from` is the stream's cursor the collector read before reading its source.
    pub(crate) fn spawn(ledger: Ledger, schema: StreamSchema, resumes_from: Option<serde_json::Value>) -> Self {
        let (batches, mut queue) = mpsc::channel::<Batch>(1);
        let task = tokio::spawn(async move {
            let mut committed = Committed::default();
            let mut last_cursor = resumes_from;
            while let Some(mut batch) = queue.recv().await {
                let cursor = batch.cursor.clone();
                batch.resumes_from = Some(last_cursor.clone());
                let outcome = ledger.append(&schema, batch).await?;
                if cursor.is_some() {
                    last_cursor = cursor;
                }
                committed.appended += outcome.committed.map_or(0, |c| c.rows);
                committed.rejected += outcome.rejected.map_or(0, |c| c.rows);
            }
            Ok(committed)
        });
        Self { batches, task }
    }

    /// Queues a batch; false once an append has failed (the error comes from
    /// [`finish`](Self::finish)), so the caller can stop reading.
    pub(crate) async fn send(&self, batch: Batch) -> bool {
        self.batches.send(batch).await.is_ok() && !self.batches.is_closed()
    }

    /// Waits for every queued batch; the first append error, if any.
    pub(crate) async fn finish(self) -> Result<Committed, LedgerError> {
        drop(self.batches);
        self.task.await.expect("the committer task does not panic")
    }
}
