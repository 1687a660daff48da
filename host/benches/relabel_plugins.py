#!/usr/bin/env python3
"""Copies of a plugin library, each declaring a backend name of its own.

Used by vs_python.sh to fill a plugin directory with many files that
discovery must tell apart: plain copies would all say the same name and
end up as duplicates of one plugin. Only the name inside the `.floe_plugin`
metadata record changes; the code stays the original backend's, so these
files are for discovery, not for loading.

The new name must be as long as the old one: the record, the section and
every offset after it then stay as they are.

Usage: relabel_plugins.py SOURCE.so OLD_NAME OUT_DIR COUNT
writes OUT_DIR/libfloe_backend_bNNNNN.so declaring bNNNNN (zero-padded to
OLD_NAME's length), for NNNNN = 1..COUNT.
"""

import struct
import sys
from pathlib import Path

SECTION = b".floe_plugin"
MAGIC = b"FLOEMETA"
HEADER_LEN = 8 + 1 + 4  # magic, format version, body length


def metadata_section(elf: bytes) -> tuple[int, int]:
    """Offset and size of the metadata section of a 64-bit little-endian ELF file."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        sys.exit("error: not a 64-bit little-endian ELF file")
    (shoff,) = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)

    def header(index: int) -> tuple[int, int, int]:
        at = shoff + index * shentsize
        name, _kind = struct.unpack_from("<II", elf, at)
        offset, size = struct.unpack_from("<QQ", elf, at + 24)
        return name, offset, size

    _, names_at, _ = header(shstrndx)
    for index in range(shnum):
        name, offset, size = header(index)
        end = elf.index(b"\0", names_at + name)
        if elf[names_at + name : end] == SECTION:
            return offset, size
    sys.exit(f"error: no {SECTION.decode()} section")


def name_field(record: bytes) -> tuple[int, str]:
    """Where the name's bytes start inside the record, and the name."""
    if record[:8] != MAGIC or record[8] != 1:
        sys.exit("error: the section does not hold a format-1 metadata record")
    at = HEADER_LEN
    (api_len,) = struct.unpack_from("<H", record, at)
    at += 2 + api_len
    (name_len,) = struct.unpack_from("<H", record, at)
    at += 2
    return at, record[at : at + name_len].decode()


def main() -> None:
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    source, old_name, out_dir, count = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    elf = bytearray(Path(source).read_bytes())
    section_at, section_size = metadata_section(elf)
    name_at, name = name_field(bytes(elf[section_at : section_at + section_size]))
    if name != old_name:
        sys.exit(f"error: {source} declares {name!r}, not {old_name!r}")
    digits = len(old_name) - 1
    if count >= 10**digits:
        sys.exit(f"error: {count} names do not fit in {len(old_name)} characters")
    out_dir.mkdir(parents=True, exist_ok=True)
    at = section_at + name_at
    for number in range(1, count + 1):
        new_name = f"b{number:0{digits}d}"
        elf[at : at + len(old_name)] = new_name.encode()
        (out_dir / f"libfloe_backend_{new_name}.so").write_bytes(elf)


if __name__ == "__main__":
    main()
