//! Progress of a file or stdin ingest, for a live line on a terminal: the
//! caller's callback is told which input is being read, how far, and what came
//! of it so far, at most every [`EVERY`].

use crate::IngestSummary;
use std::cell::Cell;
use std::io::Read;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How often the callback is called while records come in.
const EVERY: Duration = Duration::from_millis(250);

/// Where a file ingest stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProgress {
    /// The input being read (`stdin` for `-`).
    pub input: String,
    /// Its bytes read so far (compressed bytes for a gzip file).
    pub bytes_read: u64,
    /// Its size, when it is a file.
    pub bytes_total: Option<u64>,
    /// Over every input so far.
    pub records: u64,
    pub rows_written: u64,
    pub quarantined: u64,
}

/// Calls the progress callback as records come in, at most every [`EVERY`]
/// (and for the first record of each input, so a slow stream shows at once).
pub(crate) struct Ticker<'a> {
    callback: &'a mut dyn FnMut(&FileProgress),
    input: String,
    bytes_total: Option<u64>,
    bytes_read: Rc<Cell<u64>>,
    last: Option<Instant>,
}

impl<'a> Ticker<'a> {
    pub(crate) fn new(callback: &'a mut dyn FnMut(&FileProgress)) -> Self {
        Self {
            callback,
            input: String::new(),
            bytes_total: None,
            bytes_read: Rc::new(Cell::new(0)),
            last: None,
        }
    }

    /// Starts an input; returns the counter its reader adds the bytes it reads to.
    pub(crate) fn start(&mut self, input: &str, bytes_total: Option<u64>) -> Rc<Cell<u64>> {
        self.input = input.to_owned();
        self.bytes_total = bytes_total;
        self.bytes_read = Rc::new(Cell::new(0));
        self.last = None;
        Rc::clone(&self.bytes_read)
    }

    /// After a record: reports when the last report is [`EVERY`] old.
    pub(crate) fn tick(&mut self, summary: &IngestSummary) {
        if self.last.is_some_and(|t| t.elapsed() < EVERY) {
            return;
        }
        self.last = Some(Instant::now());
        self.report(summary);
    }

    /// Reports now (at the end of an input).
    pub(crate) fn report(&mut self, summary: &IngestSummary) {
        (self.callback)(&FileProgress {
            input: self.input.clone(),
            bytes_read: self.bytes_read.get(),
            bytes_total: self.bytes_total,
            records: summary.records,
            rows_written: summary.rows_written,
            quarantined: summary.quarantined,
        });
    }
}

/// A reader that counts the bytes read through it.
pub(crate) struct Counting<R> {
    pub(crate) inner: R,
    pub(crate) read: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}
