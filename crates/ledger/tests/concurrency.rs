//! Writers racing for the same stream inside one process: every commit lands exactly once,
//! manifest numbers are exactly 1..=N, and the chain verifies.

use keytrail_ledger::{Batch, Ledger, OpenMode, Record, StreamSchema};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_writers_never_fork_or_lose_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path().to_str().unwrap(), OpenMode::ReadWrite).await.unwrap();
    let schema = StreamSchema::new("race", vec![]).unwrap();
    let (writers, commits, rows) = (4u64, 12u64, 5u64);
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (ledger, schema) = (ledger.clone(), schema.clone());
            tokio::spawn(async move {
                let mut attempts = 0;
                for c in 0..commits {
                    let records: Vec<Record> = (0..rows)
                        .map(|r| {
                            let t = chrono::DateTime::from_timestamp(1_793_491_200 + (w * 1000 + c * 10 + r) as i64, 0).unwrap();
                            Record::new(t, format!(r#"{{"w":{w},"c":{c},"r":{r}}}"#).into_bytes())
                        })
                        .collect();
                    attempts += ledger.append(&schema, Batch::new(records)).await.unwrap().committed.unwrap().attempts;
                }
                attempts
            })
        })
        .collect();
    let mut attempts = 0;
    for t in tasks {
        attempts += t.await.unwrap();
    }
    let manifests = ledger.manifests("race").await.unwrap();
    let numbers: Vec<u64> = manifests.iter().map(|m| m.number).collect();
    assert_eq!(numbers, (1..=writers * commits).collect::<Vec<_>>());
    assert_eq!(manifests.last().unwrap().tree_size, writers * commits * rows);
    assert!(u64::from(attempts) >= writers * commits, "each commit took at least one attempt");
    let report = ledger.verify(&Default::default()).await.unwrap();
    assert!(report.is_valid(), "{report:?}");
}

#[tokio::test]
async fn a_writer_with_another_schema_is_refused() {
    use keytrail_ledger::{Column, FieldType, Value};
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path().to_str().unwrap(), OpenMode::ReadWrite).await.unwrap();
    let t = chrono::DateTime::from_timestamp(1_793_491_200, 0).unwrap();
    let record = |value: Value| Record { values: vec![value], ..Record::new(t, b"{}".to_vec()) };
    let int = StreamSchema::new("s", vec![Column::new("n", FieldType::Int)]).unwrap();
    ledger.append(&int, Batch::new(vec![record(Value::Int(1))])).await.unwrap();
    let text = StreamSchema::new("s", vec![Column::new("n", FieldType::Str)]).unwrap();
    let err = ledger.append(&text, Batch::new(vec![record(Value::Str("1".into()))])).await.unwrap_err().to_string();
    assert!(err.contains("stream s holds columns [n:Int] but this writer produces [n:Str]") && err.contains("never change type"), "{err}");
}
