//! The plugin's metadata as a record in its own ELF section, readable
//! without loading the library.
//!
//! Loading a shared library runs its initialisers. To list plugins, and to
//! refuse one built for another API, the host should not have to: like the
//! kernel reading a module's `.modinfo`, it reads the [`SECTION`] of the file
//! with an ELF parser and decodes the one [`Metadata`] record in it.
//! [`export_backend!`](crate::export_backend) writes that record at compile
//! time, from the backend's constants and the crate's version.
//!
//! # The record, format 1
//!
//! All integers little-endian; every text is UTF-8 with a `u16` length
//! before it.
//!
//! | bytes | what |
//! |---|---|
//! | 8 | [`MAGIC`], `FLOEMETA` |
//! | 1 | format version, [`FORMAT_VERSION`] |
//! | 4 | `u32` length of the body that follows |
//! | 2 + n | `floe_api_version`, e.g. `1.1` |
//! | 2 + n | `name` |
//! | 2 + n | `version` of the plugin (semver) |
//! | 2 + n | `description` |
//! | 1 | `self_hosted`: 0 or 1 |
//! | 1 | `signals`: the [`Signals`] bits |
//!
//! The section holds exactly one record and nothing else. A later format may
//! append fields to the body; a reader refuses a format newer than it knows,
//! so the host says "upgrade floe-telemetry" instead of misreading it.
//!
//! [`Metadata::decode`] treats its input as hostile: every length is checked
//! against what is left, every text must be UTF-8, and it never panics.

use std::fmt;

use crate::Signals;

/// The name of the ELF section holding the record.
pub const SECTION: &str = ".floe_plugin";

/// The name of the exported symbol at the record, which keeps the linker
/// from discarding the section and lets `nm` show it.
pub const SYMBOL: &str = "floe_telemetry_metadata";

/// The first bytes of every record.
pub const MAGIC: [u8; 8] = *b"FLOEMETA";

/// The record format this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// Magic, format version and body length.
const HEADER_LEN: usize = 8 + 1 + 4;

/// The longest record a reader accepts: far more than four short texts need,
/// small enough that a hostile length cannot make the host read much.
pub const MAX_RECORD_LEN: usize = 16 * 1024;

/// What a plugin says about itself, as its metadata section records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata<'a> {
    /// The plugin API version it was built against, e.g. `1.1`.
    pub floe_api_version: &'a str,
    /// The backend's name.
    pub name: &'a str,
    /// The plugin's own version.
    pub version: &'a str,
    /// One line about the backend.
    pub description: &'a str,
    /// Whether the backend's services run in the user's cluster.
    pub self_hosted: bool,
    /// The signals the backend accepts.
    pub signals: Signals,
}

/// Why bytes are not a metadata record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes do not start with [`MAGIC`].
    NotARecord,
    /// A newer format than this reader knows.
    NewerFormat(u8),
    /// Longer than [`MAX_RECORD_LEN`].
    TooLong(usize),
    /// Cut short: a length says more than is there.
    Truncated,
    /// Bytes after the record.
    TrailingBytes(usize),
    /// A text that is not UTF-8.
    NotUtf8(&'static str),
    /// `self_hosted` is neither 0 nor 1.
    NotABoolean(u8),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::NotARecord => write!(f, "it does not start with the record's magic bytes"),
            DecodeError::NewerFormat(format) => write!(
                f,
                "it is in record format {format}, newer than format {FORMAT_VERSION} that this \
                 reader knows"
            ),
            DecodeError::TooLong(len) => {
                write!(
                    f,
                    "it is {len} bytes long, more than the {MAX_RECORD_LEN} allowed"
                )
            }
            DecodeError::Truncated => write!(f, "it is cut short"),
            DecodeError::TrailingBytes(extra) => {
                write!(f, "{extra} unexpected byte(s) follow the record")
            }
            DecodeError::NotUtf8(field) => write!(f, "its {field} is not UTF-8"),
            DecodeError::NotABoolean(byte) => {
                write!(f, "its self_hosted flag is {byte}, neither 0 nor 1")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

impl<'a> Metadata<'a> {
    /// The size of the encoded record.
    ///
    /// # Panics
    ///
    /// If a text is longer than `u16::MAX` bytes (at compile time, in the
    /// export macro).
    pub const fn encoded_len(&self) -> usize {
        let texts = [
            self.floe_api_version,
            self.name,
            self.version,
            self.description,
        ];
        let mut len = HEADER_LEN + 2;
        let mut i = 0;
        while i < texts.len() {
            assert!(
                texts[i].len() <= u16::MAX as usize,
                "a metadata text is too long"
            );
            len += 2 + texts[i].len();
            i += 1;
        }
        len
    }

    /// The record, in an array of exactly [`Self::encoded_len`] bytes; usable
    /// in a `static`.
    ///
    /// # Panics
    ///
    /// If `N` is not [`Self::encoded_len`].
    pub const fn encode<const N: usize>(&self) -> [u8; N] {
        assert!(N == self.encoded_len(), "wrong metadata record length");
        let mut out = [0u8; N];
        let mut at = 0;
        at = put(&mut out, at, &MAGIC);
        out[at] = FORMAT_VERSION;
        at += 1;
        at = put(&mut out, at, &((N - HEADER_LEN) as u32).to_le_bytes());
        at = put_text(&mut out, at, self.floe_api_version);
        at = put_text(&mut out, at, self.name);
        at = put_text(&mut out, at, self.version);
        at = put_text(&mut out, at, self.description);
        out[at] = self.self_hosted as u8;
        out[at + 1] = self.signals.0;
        out
    }

    /// The record as a vector: [`Self::encode`] for a length known only at
    /// run time.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&MAGIC);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&((self.encoded_len() - HEADER_LEN) as u32).to_le_bytes());
        for text in [
            self.floe_api_version,
            self.name,
            self.version,
            self.description,
        ] {
            out.extend_from_slice(&(text.len() as u16).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out.push(u8::from(self.self_hosted));
        out.push(self.signals.0);
        out
    }

    /// Reads the one record that `bytes` must hold, borrowing its texts.
    /// Never panics, whatever the bytes.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_RECORD_LEN {
            return Err(DecodeError::TooLong(bytes.len()));
        }
        let mut reader = Reader { rest: bytes };
        if reader.take(MAGIC.len())? != MAGIC {
            return Err(DecodeError::NotARecord);
        }
        let format = reader.byte()?;
        if format > FORMAT_VERSION {
            return Err(DecodeError::NewerFormat(format));
        }
        if format == 0 {
            return Err(DecodeError::NotARecord);
        }
        let body_len = u32::from_le_bytes(reader.array()?) as usize;
        let body = reader.take(body_len)?;
        if !reader.rest.is_empty() {
            return Err(DecodeError::TrailingBytes(reader.rest.len()));
        }
        let mut body = Reader { rest: body };
        let metadata = Metadata {
            floe_api_version: body.text("floe_api_version")?,
            name: body.text("name")?,
            version: body.text("version")?,
            description: body.text("description")?,
            self_hosted: match body.byte()? {
                0 => false,
                1 => true,
                other => return Err(DecodeError::NotABoolean(other)),
            },
            signals: Signals(body.byte()?),
        };
        if !body.rest.is_empty() {
            return Err(DecodeError::TrailingBytes(body.rest.len()));
        }
        Ok(metadata)
    }
}

const fn put<const N: usize>(out: &mut [u8; N], mut at: usize, bytes: &[u8]) -> usize {
    let mut i = 0;
    while i < bytes.len() {
        out[at] = bytes[i];
        at += 1;
        i += 1;
    }
    at
}

const fn put_text<const N: usize>(out: &mut [u8; N], at: usize, text: &str) -> usize {
    let at = put(out, at, &(text.len() as u16).to_le_bytes());
    put(out, at, text.as_bytes())
}

/// Bounds-checked reads from the front of a byte slice.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        if len > self.rest.len() {
            return Err(DecodeError::Truncated);
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut array = [0u8; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn text(&mut self, field: &'static str) -> Result<&'a str, DecodeError> {
        let len = u16::from_le_bytes(self.array()?);
        let bytes = self.take(usize::from(len))?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8(field))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const JAEGER: Metadata<'static> = Metadata {
        floe_api_version: "1.1",
        name: "jaeger",
        version: "0.1.0",
        description: "Jaeger, self-hosted tracing",
        self_hosted: true,
        signals: Signals::TRACES,
    };

    // What the export macro does: the record built at compile time.
    static RECORD: [u8; JAEGER.encoded_len()] = JAEGER.encode();

    #[test]
    fn the_compile_time_record_reads_back() {
        assert_eq!(Metadata::decode(&RECORD), Ok(JAEGER));
        assert_eq!(RECORD.as_slice(), JAEGER.to_bytes());
    }

    #[test]
    fn the_layout_is_as_documented() {
        let bytes = JAEGER.to_bytes();
        assert_eq!(&bytes[..8], b"FLOEMETA");
        assert_eq!(bytes[8], 1);
        assert_eq!(
            u32::from_le_bytes(bytes[9..13].try_into().unwrap()) as usize,
            bytes.len() - 13
        );
        assert_eq!(&bytes[13..18], b"\x03\x001.1");
        assert_eq!(&bytes[bytes.len() - 2..], [1, 1]);
    }

    #[test]
    fn damage_is_named() {
        let good = JAEGER.to_bytes();
        assert_eq!(Metadata::decode(&[]), Err(DecodeError::Truncated));
        assert_eq!(
            Metadata::decode(&good[..good.len() - 1]),
            Err(DecodeError::Truncated)
        );
        let mut longer = good.clone();
        longer.push(0);
        assert_eq!(
            Metadata::decode(&longer),
            Err(DecodeError::TrailingBytes(1))
        );
        let mut magic = good.clone();
        magic[0] = b'X';
        assert_eq!(Metadata::decode(&magic), Err(DecodeError::NotARecord));
        let mut newer = good.clone();
        newer[8] = 2;
        assert_eq!(Metadata::decode(&newer), Err(DecodeError::NewerFormat(2)));
        let mut flag = good.clone();
        let at = flag.len() - 2;
        flag[at] = 7;
        assert_eq!(Metadata::decode(&flag), Err(DecodeError::NotABoolean(7)));
        let mut text = good;
        text[15] = 0xff; // inside "1.1"
        assert_eq!(
            Metadata::decode(&text),
            Err(DecodeError::NotUtf8("floe_api_version"))
        );
        assert_eq!(
            Metadata::decode(&vec![0; MAX_RECORD_LEN + 1]),
            Err(DecodeError::TooLong(MAX_RECORD_LEN + 1))
        );
    }

    fn text() -> impl Strategy<Value = String> {
        proptest::string::string_regex("(?s).{0,80}").unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 5_000, ..ProptestConfig::default() })]

        /// Any metadata survives the trip, both encoders agreeing.
        #[test]
        fn round_trip(
            api in text(), name in text(), version in text(), description in text(),
            self_hosted in any::<bool>(), signals in any::<u8>(),
        ) {
            let metadata = Metadata {
                floe_api_version: &api, name: &name, version: &version,
                description: &description, self_hosted, signals: Signals(signals),
            };
            let bytes = metadata.to_bytes();
            prop_assert_eq!(bytes.len(), metadata.encoded_len());
            prop_assert_eq!(Metadata::decode(&bytes), Ok(metadata));
        }

        /// Arbitrary bytes never panic the reader.
        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Metadata::decode(&bytes);
        }

        /// A real record with bytes changed, cut or extended never panics the
        /// reader, and whatever it accepts re-encodes to the same bytes.
        #[test]
        fn mutated_records(
            flips in proptest::collection::vec((0usize..64, any::<u8>()), 1..8),
            keep in 0usize..80,
            extra in proptest::collection::vec(any::<u8>(), 0..4),
        ) {
            let mut bytes = JAEGER.to_bytes();
            for (at, value) in flips {
                let at = at % bytes.len();
                bytes[at] = value;
            }
            bytes.truncate(keep);
            bytes.extend(extra);
            if let Ok(metadata) = Metadata::decode(&bytes) {
                prop_assert_eq!(metadata.to_bytes(), bytes);
            }
        }
    }
}
