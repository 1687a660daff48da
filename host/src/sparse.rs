//! A file as the ELF reader sees it, holding only the bytes it asked for.
//!
//! The reader in [`elf`](crate::elf) takes its bytes from a [`ReadRef`]. Over
//! a thousand plugin files, fetching them is most of what discovery costs,
//! so each file is read in as few `pread`s as the reader's questions allow
//! (the ELF and program headers; the dynamic segment; the section headers;
//! the section names; the metadata section). The reader cannot say in advance
//! which bytes it needs, and its answers must not depend on how they were
//! fetched, so it is simply run again: a run that asks for bytes not yet
//! read notes the first such range, its answer is thrown away, the range is
//! read, and the reader runs again over the bytes it now has. The reader is
//! a pure function of the bytes it reads, so the last run, which found every
//! byte it asked for, answers as a run over the whole file would.
//!
//! The buffers stay with the [`Sparse`] from one file to the next.

use std::cell::Cell;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use object::ReadRef;

/// Reads are rounded out to this alignment, which keeps every header at the
/// same alignment in the buffer as in the file (the ELF reader checks it).
/// Only what is asked for is read: copying pages out of the page cache is
/// most of what a read costs once the call is made.
const ALIGN: u64 = 64;

/// The first read: the ELF header and, in any library seen in practice, the
/// program headers after it.
const FIRST_READ: u64 = 2 * 1024;

/// A string is read at least this far at a time.
const STRING_READ: u64 = 1024;

/// The most the checks may read of one file, and in one piece: far more
/// than the headers, tables and metadata section of any library take. The
/// sizes come from the file, so a file that claims a header of a gigabyte
/// (a sparse file takes no disk for it) is judged unreadable instead of
/// making the host hold it.
const MAX_READ: u64 = 4 << 20;
const MAX_READ_PER_FILE: u64 = 2 * MAX_READ;

/// At most this many runs of the reader for one file; a file that keeps
/// asking for more is then judged on the bytes read so far, as a file whose
/// reads fail.
const MAX_RUNS: usize = 24;

/// The bytes of one file read so far, and the first range a run of the
/// reader asked for that is not among them.
#[derive(Debug, Default)]
pub(crate) struct Sparse {
    len: u64,
    spans: Vec<Span>,
    /// Buffers of earlier files, kept for the next ones.
    spare: Vec<Vec<u8>>,
    missing: Cell<Option<(u64, u64)>>,
    /// A read failed or the runs ran out: what is missing stays missing,
    /// and the reader sees it as unreadable.
    exhausted: bool,
}

#[derive(Debug)]
struct Span {
    start: u64,
    bytes: Vec<u8>,
}

impl Span {
    fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }
}

impl Sparse {
    /// Runs `judge` over `file`, `len` bytes long, until it has every byte
    /// it asks for, and returns its last answer.
    pub(crate) fn judge<T>(&mut self, file: &File, len: u64, judge: impl Fn(&Sparse) -> T) -> T {
        self.start(len);
        self.fetch(file, 0..FIRST_READ.min(len));
        for _ in 0..MAX_RUNS {
            let answer = judge(self);
            match self.missing.take() {
                Some((start, end)) if !self.exhausted => self.fetch(file, start..end),
                _ => return answer,
            }
        }
        self.exhausted = true;
        judge(self)
    }

    fn start(&mut self, len: u64) {
        self.len = len;
        self.spare
            .extend(self.spans.drain(..).map(|span| span.bytes));
        self.missing.set(None);
        self.exhausted = false;
    }

    /// Reads `range`, rounded out to [`ALIGN`] and cut at the end of the
    /// file. A failed or short read (the file shrank) leaves it unread.
    fn fetch(&mut self, file: &File, range: Range<u64>) {
        let start = range.start - range.start % ALIGN;
        let end = range.end.next_multiple_of(ALIGN).min(self.len);
        if start >= end {
            return;
        }
        let held: u64 = self.spans.iter().map(|span| span.bytes.len() as u64).sum();
        if held + (end - start) > MAX_READ_PER_FILE {
            self.exhausted = true;
            return;
        }
        let mut bytes = self.spare.pop().unwrap_or_default();
        // Overwritten by the read: only new room is zeroed.
        bytes.resize((end - start) as usize, 0);
        match file.read_exact_at(&mut bytes, start) {
            Ok(()) => self.spans.push(Span { start, bytes }),
            Err(_) => {
                self.spare.push(bytes);
                self.exhausted = true;
            }
        }
    }

    /// The span holding `offset`, reaching furthest past it.
    fn span_at(&self, offset: u64) -> Option<&Span> {
        self.spans
            .iter()
            .filter(|span| span.start <= offset && offset < span.end())
            .max_by_key(|span| span.end())
    }

    /// Notes `range` as wanted, unless a range is noted already (the run's
    /// answer is thrown away after the first) or nothing more will be read.
    fn want(&self, range: Range<u64>) {
        // Too large to read: it stays missing, and the reader's answer is
        // that the file is unreadable there.
        if range.end - range.start > MAX_READ {
            return;
        }
        if !self.exhausted && self.missing.get().is_none() {
            self.missing.set(Some((range.start, range.end)));
        }
    }
}

impl<'a> ReadRef<'a> for &'a Sparse {
    fn len(self) -> Result<u64, ()> {
        Ok(self.len)
    }

    fn read_bytes_at(self, offset: u64, size: u64) -> Result<&'a [u8], ()> {
        if size == 0 {
            return Ok(&[]);
        }
        let end = offset.checked_add(size).ok_or(())?;
        if end > self.len {
            return Err(());
        }
        match self.span_at(offset) {
            Some(span) if end <= span.end() => {
                let from = (offset - span.start) as usize;
                Ok(&span.bytes[from..from + size as usize])
            }
            _ => {
                self.want(offset..end);
                Err(())
            }
        }
    }

    fn read_bytes_at_until(self, range: Range<u64>, delimiter: u8) -> Result<&'a [u8], ()> {
        if range.start > range.end || range.end > self.len {
            return Err(());
        }
        let Some(span) = self.span_at(range.start) else {
            self.want(range.start..range.end.min(range.start.saturating_add(STRING_READ)));
            return Err(());
        };
        let from = (range.start - span.start) as usize;
        let to = (range.end.min(span.end()) - span.start) as usize;
        let bytes = &span.bytes[from..to];
        if let Some(found) = bytes.iter().position(|&byte| byte == delimiter) {
            return Ok(&bytes[..found]);
        }
        if span.end() >= range.end {
            return Err(());
        }
        // Read on from where this span ends, twice as far each time: a long
        // string costs few runs.
        let more = (span.end() - range.start).max(STRING_READ);
        self.want(span.end()..range.end.min(span.end().saturating_add(more)));
        Err(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use proptest::prelude::*;

    use super::*;
    use crate::elf;

    fn file_of(bytes: &[u8]) -> File {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    /// The verdict, and for a library what the section reader says.
    type Answer = (elf::ElfVerdict, Option<Result<Option<Vec<u8>>, String>>);

    /// What the ELF checks say of `bytes`, over the whole file in memory and
    /// over the bytes fetched as asked.
    fn both_ways(bytes: &[u8]) -> [Answer; 2] {
        fn answer<'d, R: ReadRef<'d>>(data: R, len: u64) -> Answer {
            let verdict = elf::inspect(data, len);
            let section = (verdict == elf::ElfVerdict::SharedLibrary)
                .then(|| elf::metadata_section(data).map(|s| s.map(<[u8]>::to_vec)));
            (verdict, section)
        }
        let len = bytes.len() as u64;
        let whole = answer(bytes, len);
        let fetched = Sparse::default().judge(&file_of(bytes), len, |data| answer(data, len));
        [whole, fetched]
    }

    fn real_library() -> Vec<u8> {
        // Any shared library of this machine will do: the C library, found
        // through this test binary's own loader map.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let path = maps
            .lines()
            .filter_map(|line| line.split_whitespace().nth(5))
            .find(|path| path.contains("libc.so") || path.contains("libc-"))
            .expect("this test binary maps the C library");
        std::fs::read(path).unwrap()
    }

    #[test]
    fn a_library_reads_the_same_in_parts() {
        let library = real_library();
        let [whole, fetched] = both_ways(&library);
        assert_eq!(whole.0, elf::ElfVerdict::SharedLibrary);
        assert_eq!(whole, fetched);
        let executable = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let [whole, fetched] = both_ways(&executable);
        assert_eq!(whole, fetched);
    }

    #[test]
    fn a_few_reads_make_a_library() {
        let library = real_library();
        let file = file_of(&library);
        let mut sparse = Sparse::default();
        let len = library.len() as u64;
        sparse.judge(&file, len, |data| elf::inspect(data, len));
        assert!(sparse.spans.len() <= 3, "{} reads", sparse.spans.len());
        let read: u64 = sparse
            .spans
            .iter()
            .map(|span| span.bytes.len() as u64)
            .sum();
        assert!(read < len / 4, "{read} of {len} bytes read");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// A real library with bytes changed and cut short is judged the
        /// same whether it is read whole or in parts.
        #[test]
        fn changed_libraries_read_the_same_in_parts(
            flips in proptest::collection::vec((0usize..1 << 20, any::<u8>()), 0..16),
            keep in 0usize..1 << 22,
        ) {
            static LIBRARY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            let mut bytes = LIBRARY.get_or_init(real_library).clone();
            for (at, value) in flips {
                // Mostly in the headers, where it matters.
                let at = if at % 2 == 0 { at % 4096 } else { at % bytes.len() };
                bytes[at] = value;
            }
            bytes.truncate(keep);
            let [whole, fetched] = both_ways(&bytes);
            prop_assert_eq!(whole, fetched);
        }
    }
}
