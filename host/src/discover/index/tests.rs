use super::*;

/// An index of the directory `dir` (not written anywhere), which has seen
/// nothing yet, at `now`.
fn empty_index(dir: &Path, now: i128) -> DirIndex {
    DirIndex {
        file: dir.join("the.index"),
        dir: dir.to_owned(),
        dir_fd: rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap(),
        bytes: Vec::new(),
        known: Vec::new(),
        next: 0,
        seen: Vec::new(),
        learned: false,
        user: rustix::process::geteuid().as_raw(),
        now,
    }
}

/// Far enough after every file a test writes.
fn later() -> i128 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    now.as_nanos() as i128 + 60 * SETTLED_NS
}

/// `index` as the next command reads it.
fn reread(index: &DirIndex) -> DirIndex {
    let bytes = index.encode();
    let known = decode(&bytes, &index.dir).expect("an index reads back");
    DirIndex {
        bytes,
        known,
        ..empty_index(&index.dir, index.now)
    }
}

/// The index a directory holding `liba.so` has once it has been read: in
/// `tmp`, as the next command reads it.
fn one_file_indexed(tmp: &Path) -> DirIndex {
    let mut index = empty_index(tmp, later());
    write_and_record(&mut index, "liba.so", "a", Some(b"section"));
    reread(&index)
}

fn write_and_record(index: &mut DirIndex, name: &str, contents: &str, section: Option<&[u8]>) {
    let path = index.dir.join(name);
    fs::write(&path, contents).unwrap();
    let file = File::open(&path).unwrap();
    index.record(OsStr::new(name), &file, section);
}

#[test]
fn an_index_reads_back_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let mut index = empty_index(tmp.path(), later());
    write_and_record(&mut index, "liba.so", "a", Some(b"section of a"));
    write_and_record(&mut index, "libb.so", "bb", None);

    let mut next = reread(&index);

    let a = next.lookup(OsStr::new("liba.so")).unwrap();
    assert_eq!(a.section, Some(&b"section of a"[..]));
    assert_eq!(a.owner, index.user);
    assert_eq!(next.lookup(OsStr::new("libb.so")).unwrap().section, None);
    assert!(next.lookup(OsStr::new("libc.so")).is_none());
    // Nothing learned, nothing missing: nothing to write.
    assert!(!next.learned && next.seen.len() == next.known.len());
    assert_eq!(next.encode(), index.encode());
}

#[test]
fn anything_but_a_whole_index_of_the_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut index = empty_index(tmp.path(), later());
    write_and_record(&mut index, "liba.so", "a", Some(b"section"));
    let bytes = index.encode();

    for cut in 0..bytes.len() {
        assert!(decode(&bytes[..cut], tmp.path()).is_none(), "cut at {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(decode(&longer, tmp.path()).is_none());
    assert!(decode(&bytes, Path::new("/another/dir")).is_none());
    // A count far beyond the entries there are.
    let mut counted = empty_index(tmp.path(), 0).encode();
    let at = counted.len() - 4;
    counted[at..].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(decode(&counted, tmp.path()).is_none());
}

#[test]
fn a_file_changed_since_it_was_indexed_is_not_known() {
    let tmp = tempfile::tempdir().unwrap();
    let mut next = one_file_indexed(tmp.path());

    fs::write(tmp.path().join("liba.so"), "b").unwrap();

    assert!(next.lookup(OsStr::new("liba.so")).is_none());
    // The stale entry is left out of the next index.
    assert!(next.seen.len() != next.known.len());
}

#[test]
fn a_link_is_never_known() {
    let tmp = tempfile::tempdir().unwrap();
    let mut next = one_file_indexed(tmp.path());

    fs::rename(tmp.path().join("liba.so"), tmp.path().join("target")).unwrap();
    std::os::unix::fs::symlink("target", tmp.path().join("liba.so")).unwrap();

    assert!(next.lookup(OsStr::new("liba.so")).is_none());
}

#[test]
fn a_file_changed_too_recently_is_not_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("liba.so");
    fs::write(&path, "a").unwrap();
    let changed = Key::of(&rustix::fs::stat(&path).unwrap()).ctime;
    let mut index = empty_index(tmp.path(), changed + SETTLED_NS / 2);
    let file = File::open(&path).unwrap();

    index.record(OsStr::new("liba.so"), &file, Some(b"section"));
    assert!(index.seen.is_empty() && !index.learned);

    index.now = changed + SETTLED_NS;
    index.record(OsStr::new("liba.so"), &file, Some(b"section"));
    assert!(index.seen.len() == 1 && index.learned);
}

#[test]
fn an_index_anyone_else_can_write_is_not_read() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("the.index");
    fs::write(&path, MAGIC).unwrap();
    let user = rustix::process::geteuid().as_raw();
    assert!(read(&path, user).is_ok());

    fs::set_permissions(&path, fs::Permissions::from_mode(0o622)).unwrap();
    let error = read(&path, user).unwrap_err();
    assert!(error.to_string().contains("writable by others"), "{error}");

    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    assert!(
        read(&path, user + 1)
            .unwrap_err()
            .to_string()
            .contains("owned by user id")
    );
}
