//! Reading a candidate file's ELF header, before anything is loaded.
//!
//! `dlopen` is a poor judge of a hostile file: it maps whatever the program
//! headers describe, and touching a mapping past the end of a truncated file
//! kills the process with SIGBUS. This reader treats the bytes as untrusted
//! and answers one question cheaply: is this a shared library for this
//! machine, whole enough to map?

use floe_plugin_api::metadata::{MAX_RECORD_LEN, SECTION};
use object::elf;
use object::read::elf::{Dyn, FileHeader, ProgramHeader, SectionHeader};
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

/// The bytes of the plugin metadata section (`.floe_plugin`) of `data`, an
/// ELF file that [`inspect`] judged a shared library for this machine:
/// `Ok(None)` when it has no such section. The section headers come from the
/// file, so they are checked like everything else: the section must lie
/// inside the file and be no longer than a record may be.
pub fn metadata_section<'data, R: ReadRef<'data>>(data: R) -> Result<Option<&'data [u8]>, String> {
    match FileKind::parse(data) {
        Ok(FileKind::Elf64) => section_of::<elf::FileHeader64<Endianness>, R>(data),
        Ok(FileKind::Elf32) => section_of::<elf::FileHeader32<Endianness>, R>(data),
        Ok(_) | Err(_) => Err("not an ELF file".to_owned()),
    }
}

fn section_of<'data, Elf, R>(data: R) -> Result<Option<&'data [u8]>, String>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let header = Elf::parse(data).map_err(|error| error.to_string())?;
    let endian = header.endian().map_err(|error| error.to_string())?;
    let sections = header
        .sections(endian, data)
        .map_err(|error| error.to_string())?;
    let Some((_, section)) = sections.section_by_name(endian, SECTION.as_bytes()) else {
        return Ok(None);
    };
    if section.sh_type(endian) != elf::SHT_PROGBITS {
        return Err(format!("its {SECTION} section holds no bytes in the file"));
    }
    let size: u64 = section.sh_size(endian).into();
    if size > MAX_RECORD_LEN as u64 {
        return Err(format!(
            "its {SECTION} section is {size} bytes, more than a metadata record may be"
        ));
    }
    let bytes = section
        .data(endian, data)
        .map_err(|_| format!("its {SECTION} section lies past the end of the file"))?;
    Ok(Some(bytes))
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

    /// A minimal 64-bit little-endian ELF file with one section named
    /// `name` (besides the null section and the name table), holding `data`.
    fn elf_with_section(name: &str, data: &[u8]) -> Vec<u8> {
        let names = format!("\0{name}\0.shstrtab\0");
        let data_at = 64;
        let names_at = data_at + data.len();
        let headers_at = (names_at + names.len()).next_multiple_of(8);
        let mut file = vec![0u8; headers_at + 3 * 64];
        file[..4].copy_from_slice(b"\x7fELF");
        file[4] = 2; // 64-bit
        file[5] = 1; // little-endian
        file[6] = 1; // version
        file[16..18].copy_from_slice(&elf::ET_DYN.0.to_le_bytes());
        file[18..20].copy_from_slice(&HOST.machine.0.to_le_bytes());
        file[20..24].copy_from_slice(&1u32.to_le_bytes());
        file[40..48].copy_from_slice(&(headers_at as u64).to_le_bytes());
        file[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        file[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
        file[60..62].copy_from_slice(&3u16.to_le_bytes()); // e_shnum
        file[62..64].copy_from_slice(&2u16.to_le_bytes()); // e_shstrndx
        file[data_at..names_at].copy_from_slice(data);
        file[names_at..names_at + names.len()].copy_from_slice(names.as_bytes());
        let mut section = |index: usize, name: u32, kind: u32, offset: usize, size: usize| {
            let at = headers_at + index * 64;
            file[at..at + 4].copy_from_slice(&name.to_le_bytes());
            file[at + 4..at + 8].copy_from_slice(&kind.to_le_bytes());
            file[at + 24..at + 32].copy_from_slice(&(offset as u64).to_le_bytes());
            file[at + 32..at + 40].copy_from_slice(&(size as u64).to_le_bytes());
        };
        section(1, 1, elf::SHT_PROGBITS.0, data_at, data.len());
        section(
            2,
            name.len() as u32 + 2,
            elf::SHT_STRTAB.0,
            names_at,
            names.len(),
        );
        file
    }

    #[test]
    fn the_metadata_section_is_found_by_name() {
        let file = elf_with_section(SECTION, b"record");
        assert_eq!(metadata_section(file.as_slice()), Ok(Some(&b"record"[..])));
        let other = elf_with_section(".data", b"record");
        assert_eq!(metadata_section(other.as_slice()), Ok(None));
    }

    #[test]
    fn a_section_past_the_end_or_too_long_is_refused() {
        let mut file = elf_with_section(SECTION, b"record");
        let cut = file.len() - 3 * 64;
        // Claim a size that runs past the end of the file.
        let at = cut + 64 + 32;
        file[at..at + 8].copy_from_slice(&(1000u64).to_le_bytes());
        let error = metadata_section(file.as_slice()).unwrap_err();
        assert!(error.contains("past the end"), "{error}");
        file[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        let error = metadata_section(file.as_slice()).unwrap_err();
        assert!(error.contains("more than a metadata record"), "{error}");
    }

    #[test]
    fn this_executable_has_no_metadata_section() {
        let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(metadata_section(bytes.as_slice()), Ok(None));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

        /// Arbitrary bytes never panic the reader.
        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = judge(&bytes);
            let _ = metadata_section(bytes.as_slice());
        }

        /// A file with a metadata section, bytes changed anywhere (headers,
        /// section table, names), never panics the section reader, and what
        /// it returns lies inside the file.
        #[test]
        fn mutated_sections(
            flips in proptest::collection::vec((0usize..512, any::<u8>()), 1..12),
            keep in 0usize..512,
        ) {
            let mut bytes = elf_with_section(SECTION, b"FLOEMETA\x01 record");
            for (at, value) in flips {
                let at = at % bytes.len();
                bytes[at] = value;
            }
            bytes.truncate(keep);
            if let Ok(Some(found)) = metadata_section(bytes.as_slice()) {
                prop_assert!(found.len() <= bytes.len());
            }
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
