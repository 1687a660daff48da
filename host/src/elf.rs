//! Reading a candidate file's ELF header, before anything is loaded.
//!
//! `dlopen` is a poor judge of a hostile file: it maps whatever the program
//! headers describe, and touching a mapping past the end of a truncated file
//! kills the process with SIGBUS. This reader treats the bytes as untrusted
//! and answers one question cheaply: is this a shared library for this
//! machine, whole enough to map?

use object::elf;
use object::read::elf::{Dyn, FileHeader, ProgramHeader};
use object::{Endianness, FileKind, ReadRef};

/// What is wrong with a candidate file, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElfVerdict {
    /// A shared library for this machine.
    SharedLibrary,
    /// Not an ELF file at all; says what it looks like instead.
    NotElf(&'static str),
    /// An ELF file for another machine, class or byte order.
    WrongMachine {
        /// What the file is built for, e.g. `aarch64`.
        found: String,
    },
    /// An ELF file that is not a shared library (an executable, an object file).
    NotSharedLibrary(&'static str),
    /// An ELF file that cannot be mapped as described: truncated or corrupt.
    Corrupt(String),
}

/// The ELF machine, class and byte order of this host.
struct HostMachine {
    machine: elf::Machine,
    is_64: bool,
    little_endian: bool,
}

const HOST: HostMachine = HostMachine {
    machine: if cfg!(target_arch = "x86_64") {
        elf::EM_X86_64
    } else if cfg!(target_arch = "aarch64") {
        elf::EM_AARCH64
    } else if cfg!(target_arch = "riscv64") {
        elf::EM_RISCV
    } else if cfg!(target_arch = "powerpc64") {
        elf::EM_PPC64
    } else if cfg!(target_arch = "s390x") {
        elf::EM_S390
    } else if cfg!(target_arch = "loongarch64") {
        elf::EM_LOONGARCH
    } else {
        // A machine missing from this table: every file is reported as
        // built for another machine, which is safe, and visible.
        elf::EM_NONE
    },
    is_64: cfg!(target_pointer_width = "64"),
    little_endian: cfg!(target_endian = "little"),
};

/// Judges `data`, a whole file of `len` bytes.
pub fn inspect<'data, R: ReadRef<'data>>(data: R, len: u64) -> ElfVerdict {
    if len == 0 {
        return ElfVerdict::NotElf("an empty file");
    }
    match FileKind::parse(data) {
        Ok(FileKind::Elf64) => inspect_elf::<elf::FileHeader64<Endianness>, R>(data, len),
        Ok(FileKind::Elf32) => inspect_elf::<elf::FileHeader32<Endianness>, R>(data, len),
        Ok(_) => ElfVerdict::NotElf("an object file format this platform cannot load"),
        Err(_) => ElfVerdict::NotElf(if looks_like_text(data, len) {
            "a text file"
        } else {
            "not an object file"
        }),
    }
}

fn inspect_elf<'data, Elf, R>(data: R, len: u64) -> ElfVerdict
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let header = match Elf::parse(data) {
        Ok(header) => header,
        Err(error) => return ElfVerdict::Corrupt(error.to_string()),
    };
    let endian = match header.endian() {
        Ok(endian) => endian,
        Err(error) => return ElfVerdict::Corrupt(error.to_string()),
    };
    let machine = header.e_machine(endian);
    let little_endian = endian == Endianness::Little;
    let is_64 = header.is_type_64();
    if machine != HOST.machine || is_64 != HOST.is_64 || little_endian != HOST.little_endian {
        let bits = if is_64 { "64-bit" } else { "32-bit" };
        let order = if little_endian {
            "little-endian"
        } else {
            "big-endian"
        };
        return ElfVerdict::WrongMachine {
            found: format!("{} ({bits}, {order})", machine_name(machine)),
        };
    }
    match header.e_type(endian) {
        elf::ET_DYN => {}
        elf::ET_EXEC => return ElfVerdict::NotSharedLibrary("an executable"),
        elf::ET_REL => return ElfVerdict::NotSharedLibrary("an object file (.o)"),
        elf::ET_CORE => return ElfVerdict::NotSharedLibrary("a core dump"),
        _ => return ElfVerdict::NotSharedLibrary("an ELF file of unknown type"),
    }
    let segments = match header.program_headers(endian, data) {
        Ok(segments) => segments,
        Err(error) => return ElfVerdict::Corrupt(error.to_string()),
    };
    if !segments
        .iter()
        .any(|segment| segment.p_type(endian) == elf::PT_LOAD)
    {
        return ElfVerdict::Corrupt("it has no loadable segments".to_owned());
    }
    for segment in segments {
        let (offset, size) = segment.file_range(endian);
        if offset.checked_add(size).is_none_or(|end| end > len) {
            return ElfVerdict::Corrupt(format!(
                "a segment ends past the end of the file ({len} bytes): truncated?"
            ));
        }
        // A position-independent executable is ET_DYN too; DF_1_PIE tells it apart.
        match segment.dynamic(endian, data) {
            Ok(Some(entries)) => {
                let is_pie = entries.iter().any(|entry| {
                    entry.tag(endian) == elf::DT_FLAGS_1 && entry.val(endian) & elf::DF_1_PIE.0 != 0
                });
                if is_pie {
                    return ElfVerdict::NotSharedLibrary("a position-independent executable");
                }
            }
            Ok(None) => {}
            Err(error) => return ElfVerdict::Corrupt(error.to_string()),
        }
    }
    ElfVerdict::SharedLibrary
}

fn machine_name(machine: elf::Machine) -> String {
    let name = match machine {
        elf::EM_X86_64 => "x86_64",
        elf::EM_386 => "x86",
        elf::EM_AARCH64 => "aarch64",
        elf::EM_ARM => "arm",
        elf::EM_RISCV => "riscv",
        elf::EM_PPC64 => "powerpc64",
        elf::EM_PPC => "powerpc",
        elf::EM_S390 => "s390x",
        elf::EM_MIPS => "mips",
        elf::EM_LOONGARCH => "loongarch",
        elf::EM_SPARCV9 => "sparc64",
        _ => return format!("ELF machine {}", machine.0),
    };
    name.to_owned()
}

/// The first bytes are printable UTF-8: somebody renamed a text file.
fn looks_like_text<'data, R: ReadRef<'data>>(data: R, len: u64) -> bool {
    let Ok(head) = data.read_bytes_at(0, len.min(512)) else {
        return false;
    };
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // A multi-byte character cut at the window's edge is still text.
        Err(error) if error.error_len().is_none() => {
            std::str::from_utf8(&head[..error.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !text.is_empty() && text.chars().all(|c| !c.is_control() || c.is_whitespace())
}

/// The host's own description, for messages: `x86_64 (64-bit, little-endian)`.
pub fn host_machine() -> String {
    let bits = if HOST.is_64 { "64-bit" } else { "32-bit" };
    let order = if HOST.little_endian {
        "little-endian"
    } else {
        "big-endian"
    };
    format!("{} ({bits}, {order})", machine_name(HOST.machine))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The first bytes of this test executable: a real ELF header for this
    /// machine, to mutate.
    fn real_elf_prefix() -> Vec<u8> {
        static PREFIX: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        PREFIX
            .get_or_init(|| {
                use std::io::Read;
                let file = std::fs::File::open(std::env::current_exe().unwrap()).unwrap();
                let mut prefix = Vec::new();
                file.take(64 * 1024).read_to_end(&mut prefix).unwrap();
                prefix
            })
            .clone()
    }

    fn judge(bytes: &[u8]) -> ElfVerdict {
        inspect(bytes, bytes.len() as u64)
    }

    #[test]
    fn text_and_garbage() {
        assert_eq!(judge(b""), ElfVerdict::NotElf("an empty file"));
        assert_eq!(
            judge(b"#!/bin/sh\necho hi\n"),
            ElfVerdict::NotElf("a text file")
        );
        assert_eq!(
            judge(&[0xff, 0x00, 0x13, 0x37]),
            ElfVerdict::NotElf("not an object file")
        );
        // Cut inside a multi-byte character: still text.
        let text = "é".repeat(300);
        assert_eq!(
            judge(&text.as_bytes()[..511]),
            ElfVerdict::NotElf("a text file")
        );
    }

    #[test]
    fn another_machine_is_named() {
        let mut bytes = real_elf_prefix();
        // e_machine sits at offset 18 in both ELF classes.
        let other = if HOST.machine == elf::EM_AARCH64 {
            elf::EM_X86_64
        } else {
            elf::EM_AARCH64
        };
        bytes[18..20].copy_from_slice(&other.0.to_le_bytes());
        let ElfVerdict::WrongMachine { found } = judge(&bytes) else {
            panic!("not reported as another machine");
        };
        assert!(found.starts_with(&machine_name(other)), "{found}");
    }

    #[test]
    fn a_truncated_file_is_corrupt() {
        // Keep the headers, lose the segments they describe.
        let bytes = real_elf_prefix();
        let cut = &bytes[..8192];
        assert!(
            matches!(judge(cut), ElfVerdict::Corrupt(_)),
            "{:?}",
            judge(cut)
        );
    }

    #[test]
    fn this_executable_is_not_a_library() {
        let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(
            matches!(judge(&bytes), ElfVerdict::NotSharedLibrary(_)),
            "{:?}",
            judge(&bytes)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

        /// Arbitrary bytes never panic the reader.
        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = judge(&bytes);
        }

        /// A real header with bytes changed and cut short never panics it,
        /// and the length it is told is never trusted beyond the data.
        #[test]
        fn mutated_headers(
            flips in proptest::collection::vec((0usize..4096, any::<u8>()), 1..16),
            keep in 16usize..8192,
            claimed_extra in 0u64..1_000_000,
        ) {
            let mut bytes = real_elf_prefix();
            for (at, value) in flips {
                let at = at % bytes.len();
                bytes[at] = value;
            }
            bytes.truncate(keep);
            let _ = inspect(bytes.as_slice(), bytes.len() as u64 + claimed_extra);
        }
    }
}
