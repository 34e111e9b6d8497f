//! [`Records`]: a batch of records held column-wise, the form the appender chains and
//! encodes.
//!
//! Every record's `raw` bytes go into one buffer and its typed values, already in their
//! canonical encoding, into another; a batch of a few hundred thousand records is a
//! handful of allocations rather than one per value. Parsers write values straight into a
//! row ([`RowBuilder`]); collectors that build [`Record`]s push them whole.

use crate::record::{Record, ValueRef, ValueSink, encoded_value};

/// Records to append, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Records {
    event_times: Vec<i64>,
    raw: Vec<u8>,
    raw_ends: Vec<usize>,
    typed: Vec<u8>,
    typed_ends: Vec<usize>,
}

impl Records {
    /// Room for `rows` records of `raw_bytes` bytes in all (typed values not counted),
    /// without reallocating.
    pub fn with_capacity(rows: usize, raw_bytes: usize) -> Self {
        Self {
            event_times: Vec::with_capacity(rows),
            raw: Vec::with_capacity(raw_bytes),
            raw_ends: Vec::with_capacity(rows),
            typed: Vec::new(),
            typed_ends: Vec::with_capacity(rows),
        }
    }

    /// An empty set with room for as many records and bytes as `self` holds.
    pub(crate) fn sized_like(&self) -> Self {
        Self {
            event_times: Vec::with_capacity(self.len()),
            raw: Vec::with_capacity(self.raw.len()),
            raw_ends: Vec::with_capacity(self.len()),
            typed: Vec::with_capacity(self.typed.len()),
            typed_ends: Vec::with_capacity(self.len()),
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.event_times.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.event_times.is_empty()
    }

    /// Adds a record.
    pub fn push(&mut self, record: Record) {
        let row = self.start_row();
        for v in &record.values {
            v.encode(&mut row.records.typed);
        }
        row.finish(record.event_time, &record.raw);
    }

    /// Starts a record whose typed values are written one by one; it is added by
    /// [`RowBuilder::finish`] and forgotten if the builder is dropped unfinished (a parser
    /// that fails half-way leaves nothing behind).
    pub fn start_row(&mut self) -> RowBuilder<'_> {
        let typed_start = self.typed.len();
        RowBuilder { records: self, typed_start }
    }

    /// Record `i`'s event time.
    pub fn event_time(&self, i: usize) -> i64 {
        self.event_times[i]
    }

    /// Record `i`'s original bytes.
    pub fn raw(&self, i: usize) -> &[u8] {
        &self.raw[Self::start(&self.raw_ends, i)..self.raw_ends[i]]
    }

    /// Record `i`'s typed values, canonically encoded and concatenated.
    pub fn typed(&self, i: usize) -> &[u8] {
        &self.typed[Self::start(&self.typed_ends, i)..self.typed_ends[i]]
    }

    /// Every event time, in order.
    pub fn event_times(&self) -> &[i64] {
        &self.event_times
    }

    fn start(ends: &[usize], i: usize) -> usize {
        if i == 0 { 0 } else { ends[i - 1] }
    }
}

impl From<Vec<Record>> for Records {
    fn from(records: Vec<Record>) -> Self {
        let mut out = Records::with_capacity(records.len(), records.iter().map(|r| r.raw.len()).sum());
        out.extend(records);
        out
    }
}

impl FromIterator<Record> for Records {
    fn from_iter<I: IntoIterator<Item = Record>>(records: I) -> Self {
        let mut out = Records::default();
        out.extend(records);
        out
    }
}

impl Extend<Record> for Records {
    fn extend<I: IntoIterator<Item = Record>>(&mut self, records: I) {
        for r in records {
            self.push(r);
        }
    }
}

/// A record being added to [`Records`]: its typed values are written in column order
/// through [`ValueSink`], then [`finish`](Self::finish) adds it.
pub struct RowBuilder<'a> {
    records: &'a mut Records,
    typed_start: usize,
}

impl RowBuilder<'_> {
    /// Adds the record with these values, its event time and original bytes.
    pub fn finish(self, event_time: i64, raw: &[u8]) {
        let mut this = std::mem::ManuallyDrop::new(self);
        let records = &mut *this.records;
        records.event_times.push(event_time);
        records.raw.extend_from_slice(raw);
        records.raw_ends.push(records.raw.len());
        records.typed_ends.push(records.typed.len());
    }
}

impl ValueSink for RowBuilder<'_> {
    fn put(&mut self, value: ValueRef<'_>) {
        value.encode(&mut self.records.typed);
    }
}

impl Drop for RowBuilder<'_> {
    fn drop(&mut self) {
        self.records.typed.truncate(self.typed_start);
    }
}

/// Splits one record's typed bytes into its values' encodings.
pub(crate) fn split_values(mut typed: &[u8]) -> impl Iterator<Item = Option<(&[u8], Option<crate::FieldType>)>> {
    std::iter::from_fn(move || {
        if typed.is_empty() {
            return None;
        }
        Some(match encoded_value(typed) {
            Some((len, kind)) => {
                let (value, rest) = typed.split_at(len);
                typed = rest;
                Some((value, kind))
            }
            None => {
                typed = &[];
                None
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FieldType, Value};

    #[test]
    fn rows_keep_their_bytes_and_values_and_an_unfinished_row_leaves_nothing() {
        let mut records = Records::default();
        records.push(Record { event_time: 5, raw: b"first".to_vec(), values: vec![Value::Int(1), Value::Null] });
        {
            let mut row = records.start_row();
            row.put(ValueRef::Str("half"));
            // dropped: a parser gave up on this record
        }
        let mut row = records.start_row();
        row.put(ValueRef::StrList(&["a", "b"]));
        row.put(ValueRef::Time(-3));
        row.finish(7, b"second");

        assert_eq!(records.len(), 2);
        assert_eq!((records.event_time(1), records.raw(1)), (7, &b"second"[..]));
        assert_eq!(records.raw(0), b"first");
        let kinds = |i| split_values(records.typed(i)).map(|v| v.unwrap().1).collect::<Vec<_>>();
        assert_eq!(kinds(0), vec![Some(FieldType::Int), None]);
        assert_eq!(kinds(1), vec![Some(FieldType::StrList), Some(FieldType::Time)]);
        let mut want = Vec::new();
        Value::StrList(vec!["a".into(), "b".into()]).encode(&mut want);
        Value::Time(-3).encode(&mut want);
        assert_eq!(records.typed(1), want);
    }

    #[test]
    fn malformed_typed_bytes_are_reported_not_misread() {
        let mut bytes = Vec::new();
        Value::Str("abc".into()).encode(&mut bytes);
        assert_eq!(split_values(&bytes[..bytes.len() - 1]).collect::<Vec<_>>(), vec![None]);
        assert_eq!(split_values(&[0x09]).collect::<Vec<_>>(), vec![None]);
        let mut list = Vec::new();
        Value::StrList(vec!["x".into()]).encode(&mut list);
        list[4] = 2; // claims two items, holds one
        assert_eq!(split_values(&list).collect::<Vec<_>>(), vec![None]);
    }
}
