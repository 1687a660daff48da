//! Reading the small files a user or an attacker may hand the host:
//! signatures, keys, lock files and configuration files.
//!
//! Such a file may be a named pipe (opening it for reading waits for a
//! writer, forever) or a link to a device such as `/dev/zero` (whose reported
//! size is 0, so a size check on the path lets it through and a read never
//! ends). So the file is opened without blocking, checked on the open
//! descriptor, and read no further than its limit, whatever its size claims.

use std::fs;
use std::io::{self, Read as _};
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::Path;

use rustix::fs::OFlags;

/// The bytes of the regular file at `path`, at most `limit` of them.
///
/// A missing file keeps its [`io::ErrorKind::NotFound`]; a file that is not
/// regular or holds more than `limit` bytes is refused with a message saying
/// what it is and what to do. The message does not name the file: callers
/// do, as each has its own fix.
pub(crate) fn read_regular_file(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = fs::OpenOptions::new()
        .read(true)
        // A named pipe opens at once instead of waiting for a writer; the
        // flag changes nothing for a regular file.
        .custom_flags((OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32)
        .open(path)?;
    // The descriptor's own type, not the path's: the path may have been
    // replaced since.
    let file_type = file.metadata()?.file_type();
    if !file_type.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "it is {}, not a regular file; replace it with a regular file",
                file_type_name(&file_type)
            ),
        ));
    }
    read_at_most(&file, limit)
}

/// All of `file`, refused if it holds more than `limit` bytes: what stops
/// a file that claims to be small, or grows, from making this one hold it.
pub(crate) fn read_at_most(file: &fs::File, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("it is longer than {limit} bytes, more than such a file ever holds"),
        ));
    }
    Ok(bytes)
}

/// [`read_regular_file`] of a text file.
pub(crate) fn read_regular_text(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_regular_file(path, limit)?).map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "it is not UTF-8 text (invalid byte at offset {})",
                error.utf8_error().valid_up_to()
            ),
        )
    })
}

/// What a file that is not a regular file is, for a message.
pub(crate) fn file_type_name(file_type: &fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a named pipe"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "a device"
    } else {
        "a special file"
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn a_regular_file_within_the_limit_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("small");
        fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_regular_file(&path, 10).unwrap(), b"0123456789");
        let error = read_regular_file(&path, 9).unwrap_err();
        assert!(error.to_string().contains("longer than 9 bytes"), "{error}");
    }

    #[test]
    fn a_named_pipe_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe");
        mkfifo(&path);
        let error = read_regular_file(&path, 10).unwrap_err();
        assert!(error.to_string().contains("a named pipe"), "{error}");
    }

    #[test]
    fn a_device_behind_a_link_is_refused_whatever_its_reported_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        let error = read_regular_file(&path, 10).unwrap_err();
        assert!(error.to_string().contains("a device"), "{error}");
    }

    #[test]
    fn a_missing_file_stays_not_found() {
        let error = read_regular_file(Path::new("/nonexistent/floe"), 10).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn text_must_be_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bytes");
        fs::write(&path, b"ok\xff").unwrap();
        let error = read_regular_text(&path, 10).unwrap_err();
        assert!(error.to_string().contains("offset 2"), "{error}");
    }

    /// Makes a named pipe at `path`, for tests of what refuses one.
    pub(crate) fn mkfifo(path: &Path) {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap_or_else(|e| panic!("mkfifo {}: {e}", path.display()));
    }
}
