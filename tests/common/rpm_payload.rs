//! Rewriting the payload of a real package: what a crafted package looks like to a reader.
//! The payload is decompressed, its cpio entries copied one by one (the chosen one with other
//! content, streamed so that a 1 GiB entry costs no memory here), compressed again with the
//! chosen compressor, and the signature header's size entries set to the new length.

use std::io::{Read, Write};

/// The payload compressions rpm writes and brp-pyc reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Xz,
}

impl Compression {
    pub const ALL: [Compression; 3] = [Compression::Gzip, Compression::Zstd, Compression::Xz];

    /// rpmbuild's `%_binary_payload` for it (xz at rpm's highest preset, whose decoder needs
    /// the most memory: 65 MiB).
    pub fn rpm_payload_macro(self) -> &'static str {
        match self {
            Compression::Gzip => "w6.gzdio",
            Compression::Zstd => "w3.zstdio",
            Compression::Xz => "w9.xzdio",
        }
    }

    fn of(payload: &[u8]) -> Compression {
        match payload {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Compression::Xz,
            _ => panic!("payload compression not known: {:02x?}", &payload[..payload.len().min(6)]),
        }
    }

    fn decoder<'a>(self, payload: &'a [u8]) -> Box<dyn Read + 'a> {
        match self {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(payload)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(payload).unwrap()),
            Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(payload)),
        }
    }

    fn encoder<'a>(self, out: &'a mut Vec<u8>) -> Box<dyn Write + 'a> {
        match self {
            Compression::Gzip => Box::new(flate2::write::GzEncoder::new(out, flate2::Compression::best())),
            Compression::Zstd => Box::new(zstd::stream::write::Encoder::new(out, 1).unwrap().auto_finish()),
            Compression::Xz => Box::new(liblzma::write::XzEncoder::new(out, 1)),
        }
    }
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// (start of the index, number of entries, start of the data) of the header at `intro`.
fn header_at(bytes: &[u8], intro: usize) -> (usize, usize, usize) {
    let entries = be32(bytes, intro + 8) as usize;
    (intro + 16, entries, intro + 16 + 16 * entries)
}

/// Where the main header starts and where the payload starts.
pub fn layout(bytes: &[u8]) -> (usize, usize) {
    let (_, _, data) = header_at(bytes, 96);
    let main = (data + be32(bytes, 96 + 12) as usize).next_multiple_of(8);
    let (_, _, main_data) = header_at(bytes, main);
    (main, main_data + be32(bytes, main + 12) as usize)
}

/// Sets every value of the INT32 or INT64 entry `tag` of the header at `intro` that `pick`
/// selects (by position) to what `value` gives; returns whether the header has the tag.
pub fn set_numbers(bytes: &mut [u8], intro: usize, tag: u32, mut value: impl FnMut(usize, u64) -> Option<u64>) -> bool {
    let (index, entries, data) = header_at(bytes, intro);
    let Some(entry) = (0..entries).map(|n| index + 16 * n).find(|&at| be32(bytes, at) == tag) else { return false };
    let (kind, offset, count) =
        (be32(bytes, entry + 4), be32(bytes, entry + 8) as usize, be32(bytes, entry + 12) as usize);
    let width = match kind {
        4 => 4,
        5 => 8,
        other => panic!("tag {tag} has type {other}, not a number"),
    };
    for n in 0..count {
        let at = data + offset + n * width;
        let old = if width == 4 {
            u64::from(be32(bytes, at))
        } else {
            u64::from_be_bytes(bytes[at..at + 8].try_into().unwrap())
        };
        if let Some(new) = value(n, old) {
            if width == 4 {
                bytes[at..at + 4].copy_from_slice(&u32::try_from(new).expect("fits a 32-bit size").to_be_bytes());
            } else {
                bytes[at..at + 8].copy_from_slice(&new.to_be_bytes());
            }
        }
    }
    true
}

/// The content a rewritten entry gets: `len` bytes of `fill`.
#[derive(Clone, Copy, Debug)]
pub struct NewContent {
    pub len: u64,
    pub fill: u8,
}

/// The names and sizes of the entries of a package's payload, in payload order, without the
/// trailer.
pub fn payload_entries(package: &[u8]) -> Vec<(String, u64)> {
    let mut entries = Vec::new();
    rewrite(package, Compression::Gzip, &mut |_, name, size| {
        entries.push((name.to_string(), size));
        None
    });
    entries
}

/// The package with the payload entry whose name ends with `entry` given `content` (or left
/// as it was with `None`), its payload compressed with `compression`, and the signature's
/// sizes made to agree with the new length. Panics if no entry has that name.
pub fn rewrite_payload(package: &[u8], entry: &str, content: Option<NewContent>, compression: Compression) -> Vec<u8> {
    let mut found = false;
    let bytes = rewrite(package, compression, &mut |_, name, _| {
        found |= name.ends_with(entry);
        content.filter(|_| name.ends_with(entry))
    });
    assert!(found, "no payload entry ends with {entry}");
    bytes
}

/// The package with its payload compressed with `compression`, each entry (position, name,
/// size) given the content `change` returns for it, if any; the signature's sizes agree.
pub fn rewrite(
    package: &[u8],
    compression: Compression,
    change: &mut dyn FnMut(usize, &str, u64) -> Option<NewContent>,
) -> Vec<u8> {
    let payload = &package[layout(package).1..];
    let mut cpio = Compression::of(payload).decoder(payload);
    let mut compressed = Vec::new();
    {
        let mut out = compression.encoder(&mut compressed);
        for position in 0.. {
            let mut header = [0u8; 110];
            cpio.read_exact(&mut header).expect("a cpio header");
            assert_eq!(&header[..6], b"070701", "a new-format (newc) cpio entry");
            let field = |n: usize| {
                u64::from_str_radix(std::str::from_utf8(&header[6 + 8 * n..14 + 8 * n]).unwrap(), 16).unwrap()
            };
            let (size, name_len) = (field(6), field(11) as usize);
            let mut name = vec![0u8; name_len + (4 - (110 + name_len) % 4) % 4];
            cpio.read_exact(&mut name).unwrap();
            let text = String::from_utf8_lossy(&name[..name_len - 1]).into_owned();
            if text == "TRAILER!!!" {
                out.write_all(&header).unwrap();
                out.write_all(&name).unwrap();
                break;
            }
            let new = change(position, &text, size);
            if let Some(new) = new {
                header[54..62].copy_from_slice(format!("{:08x}", new.len).as_bytes());
            }
            out.write_all(&header).unwrap();
            out.write_all(&name).unwrap();
            let old_padded = size + (4 - size % 4) % 4;
            match new {
                None => {
                    std::io::copy(&mut (&mut cpio).take(old_padded), &mut out).unwrap();
                }
                Some(new) => {
                    std::io::copy(&mut (&mut cpio).take(old_padded), &mut std::io::sink()).unwrap();
                    let padded = new.len + (4 - new.len % 4) % 4;
                    let chunk = vec![new.fill; 1 << 20];
                    let mut left = new.len;
                    while left > 0 {
                        let n = left.min(chunk.len() as u64) as usize;
                        out.write_all(&chunk[..n]).unwrap();
                        left -= n as u64;
                    }
                    out.write_all(&vec![0; (padded - new.len) as usize]).unwrap();
                }
            }
        }
        let mut rest = Vec::new();
        cpio.read_to_end(&mut rest).unwrap();
        out.write_all(&rest).unwrap();
        out.flush().unwrap();
    }
    with_compressed_payload(package, &compressed)
}

/// The package with `compressed` in place of its payload, and the signature's sizes made to
/// agree with the new length.
pub fn with_compressed_payload(package: &[u8], compressed: &[u8]) -> Vec<u8> {
    let (main, payload_start) = layout(package);
    let mut bytes = package[..payload_start].to_vec();
    bytes.extend_from_slice(compressed);
    // rpm's signature header records the length of header and payload (SIZE, LONGSIZE).
    let size = (bytes.len() - main) as u64;
    set_numbers(&mut bytes, 96, 1000, |_, _| u32::try_from(size).ok().map(u64::from));
    set_numbers(&mut bytes, 96, 270, |_, _| Some(size));
    bytes
}

/// The package's payload decompressed, whole: its cpio archive (for small packages).
pub fn cpio_archive(package: &[u8]) -> Vec<u8> {
    let payload = &package[layout(package).1..];
    let mut archive = Vec::new();
    Compression::of(payload).decoder(payload).read_to_end(&mut archive).unwrap();
    archive
}

/// Where each "new ASCII" entry of a cpio archive starts, and its name (the trailer's too).
pub fn newc_entries(archive: &[u8]) -> Vec<(usize, String)> {
    let mut entries = Vec::new();
    let mut at = 0;
    while at + 110 <= archive.len() {
        assert_eq!(&archive[at..at + 6], b"070701", "a new-format (newc) cpio entry at {at}");
        let field = |n: usize| {
            usize::from_str_radix(std::str::from_utf8(&archive[at + 6 + 8 * n..at + 14 + 8 * n]).unwrap(), 16).unwrap()
        };
        let (size, name_len) = (field(6), field(11));
        let name = String::from_utf8_lossy(&archive[at + 110..at + 110 + name_len - 1]).into_owned();
        entries.push((at, name.clone()));
        if name == "TRAILER!!!" {
            break;
        }
        let pad = |n: usize| n + (4 - n % 4) % 4;
        at += pad(110 + name_len) + pad(size);
    }
    entries
}

/// The package whose payload is `archive` compressed with gzip in several members, split
/// at the given offsets of the archive (as `cat a.gz b.gz` makes).
pub fn with_gzip_members(package: &[u8], archive: &[u8], splits: &[usize]) -> Vec<u8> {
    let mut compressed = Vec::new();
    let mut start = 0;
    for end in splits.iter().copied().chain([archive.len()]) {
        let mut member = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        member.write_all(&archive[start..end]).unwrap();
        compressed.extend_from_slice(&member.finish().unwrap());
        start = end;
    }
    with_compressed_payload(package, &compressed)
}

/// The package whose payload is `archive` compressed as one stream with `compression`.
pub fn with_archive(package: &[u8], archive: &[u8], compression: Compression) -> Vec<u8> {
    let mut compressed = Vec::new();
    {
        let mut out = compression.encoder(&mut compressed);
        out.write_all(archive).unwrap();
        out.flush().unwrap();
    }
    with_compressed_payload(package, &compressed)
}

/// The index of the file whose path ends with `suffix` in the header's order of files
/// (BASENAMES), for [`set_numbers`] on FILESIZES (1028) or LONGFILESIZES (5008).
pub fn file_index(package: &std::path::Path, suffix: &str) -> usize {
    let out =
        std::process::Command::new("rpm").args(["-qp", "--qf", "[%{FILENAMES}\\n]"]).arg(package).output().unwrap();
    let names = String::from_utf8(out.stdout).unwrap();
    names.lines().position(|l| l.ends_with(suffix)).unwrap_or_else(|| panic!("no file ends with {suffix}: {names}"))
}
