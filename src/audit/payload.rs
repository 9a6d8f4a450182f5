//! The payload of a package: the cpio archive after its headers, decompressed as it is read,
//! entry by entry, each held to the size the header records for its file.
//!
//! Read here, not through the `rpm` crate's streaming reader: that one finds the file of each
//! entry by a linear search of the file list that converts every path on the way, so a
//! payload took time quadratic in the package's files (1.8 s for one of 3,894 files). Here an
//! entry is found by its name in a hash map, or by its index in a stripped archive.
//!
//! The archive is what rpm writes: "new ASCII" cpio entries (`070701`, or `070702` with a
//! checksum: a 110-byte header of hex fields, the name, the content, each padded to 4 bytes),
//! or in packages with files past 4 GiB and in v6 packages "stripped" entries (`07070X` and
//! the file's index in the header, padded to 16 bytes; the size is the header's), ended by
//! a `TRAILER!!!` entry. A file's content is in the entry of one member of its hardlink set
//! (the last in the header), a symlink's entry holds its target, others hold nothing. Every
//! file but a `%ghost` has an entry: an archive that ends before one of them is corrupt (rpm
//! refuses it: "cpio: Missing file(s)").
//!
//! What a reader costs is bounded by the package, not by the sizes its header declares: the
//! payload is read only up to the last entry the caller wants, and a compressed payload that
//! expands more than [`MAX_EXPANSION`] times is refused (rpm's compressors reach about 10
//! times on code; gzip cannot pass 1,032; only a crafted stream of one repeated byte does).

use std::cell::Cell;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;

use rustc_hash::FxHashMap as HashMap;

use super::model::{FileKind, FileRecord};
use super::package::{file_records, package_error, tag, Headers};
use crate::error::Error;
use crate::render::quote;

const NEWC: &[u8; 6] = b"070701";
const NEWC_WITH_CHECKSUM: &[u8; 6] = b"070702";
const STRIPPED: &[u8; 6] = b"07070X";
/// A "new ASCII" header after its magic: 13 fields of 8 hex digits.
const NEWC_FIELDS_LEN: usize = 13 * 8;
const NEWC_HEADER_LEN: usize = 6 + NEWC_FIELDS_LEN;
const STRIPPED_HEADER_LEN: usize = 6 + 8;
const TRAILER: &[u8] = b"TRAILER!!!";
/// The longest entry name read, its NUL included (`PATH_MAX`); rpm's own reader refuses more.
const MAX_NAME_LEN: usize = 4096;

/// The payload compressions read here; rpm also writes bzip2 and lzma (`w9.bzdio`,
/// `w9.lzdio`), which are refused by name.
const READ_COMPRESSORS: [&str; 4] = ["gzip", "zstd", "xz", "identity"];

/// The most memory an xz payload's decoder may take: rpm writes xz payloads with presets up
/// to 9, whose decoder needs 65 MiB; zstd's decoder refuses windows past 128 MiB by default.
/// A crafted stream that asks for more is refused instead of being given gigabytes.
const XZ_DECODER_MEMORY_LIMIT: u64 = 128 << 20;
const XZ_MAGIC: [u8; 6] = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// How many times its compressed size a payload may expand to, past [`EXPANSION_ALLOWANCE`]:
/// more is a stream made to cost time (a 3.4 MB package whose payload holds 100 GiB of zeros
/// took 56 s to read through), refused once it gets there.
pub const MAX_EXPANSION: u64 = 1024;
/// What any payload may expand to whatever its compressed size: a small package may hold a
/// larger run of zeros.
pub const EXPANSION_ALLOWANCE: u64 = 64 << 20;

/// Streams the payload of the package at `location` and hands the content of every file
/// whose installed path is in `wanted` (those that carry content: one member per hardlink
/// set) to `on_file`, as a reader that ends where the header says the file ends. Reads the
/// payload once, decompressing as it goes, up to the last entry it needs, and holds no file
/// whole: what `on_file` leaves is skipped. Every payload entry read is held to the header's
/// size for its file: an entry that records another size is refused before its content is
/// read, one that ends early once it ends; an archive that ends before an entry the header
/// lists is refused, naming that entry.
pub fn read_payload_files(
    location: &Path,
    wanted: &HashSet<Vec<u8>>,
    mut on_file: impl FnMut(&[u8], &mut dyn Read) -> io::Result<()>,
) -> Result<(), Error> {
    if wanted.is_empty() {
        return Ok(());
    }
    let file = File::open(location).map_err(|e| Error::io(location, e))?;
    let headers = Headers::read(location, &file)?;
    let header = headers.header();
    // rpm's default when the tag is absent is gzip; one that cannot be read is left to the
    // magic number of the payload.
    if let Ok(Some(names)) = header.strings(tag::PAYLOADCOMPRESSOR) {
        let name = names.first().map(|n| String::from_utf8_lossy(n)).unwrap_or_default();
        if !READ_COMPRESSORS.contains(&&*name) {
            let reason =
                format!("payload compressed with {name}, which brp-pyc does not read (it reads gzip, zstd and xz)");
            return Err(package_error(location, reason));
        }
    }
    let files = file_records(&header).map_err(|e| package_error(location, format!("corrupt header ({e})")))?;
    let layout = Layout::of(&files);
    let is_needed = |index: usize| layout.carries_content[index] && wanted.contains(&files[index].path);
    let mut needed = (0..files.len()).filter(|&index| is_needed(index)).count();
    if needed == 0 {
        return Ok(());
    }
    let mut archive = decompressed(location, file, headers.payload_start())?;
    let mut seen = vec![false; files.len()];
    loop {
        match next_entry(&mut archive, &files, &layout, &mut seen, wanted, &mut on_file) {
            Ok(Some(index)) => {
                if is_needed(index) {
                    needed -= 1;
                    if needed == 0 {
                        // Everything asked for is read: the rest of the payload is not.
                        return Ok(());
                    }
                }
            }
            Ok(None) => {
                // The trailer, with an entry still to come: the archive lacks it.
                let missing = (0..files.len()).find(|&i| !seen[i] && !files[i].ghost).unwrap_or(0);
                let entry = quote(Path::new(OsStr::from_bytes(&files[missing].path)));
                let reason = format!("corrupt payload: the archive ends before the entry of {entry}");
                return Err(package_error(location, reason));
            }
            Err(EntryError::Size(index, held)) => {
                let entry = quote(Path::new(OsStr::from_bytes(&files[index].path)));
                return Err(package_error(location, format!("corrupt payload: the entry of {entry} holds {held}")));
            }
            Err(EntryError::Corrupt(why)) => return Err(package_error(location, format!("corrupt payload: {why}"))),
            Err(EntryError::Read(e)) => return Err(package_error(location, format!("payload: {e}"))),
        }
    }
}

/// What the header says of each file's payload entry, by index in the header.
struct Layout<'a> {
    /// The bytes the entry holds: a file's content, a symlink's target, nothing for
    /// directories, devices, `%ghost` files and the members of a hardlink set but the one
    /// that carries its content (a directory's header size is its size on the build machine).
    expected: Vec<u64>,
    /// Whether the entry holds the file's content.
    carries_content: Vec<bool>,
    /// The index of each installed path, without its leading `/` (entry names start `./`).
    by_name: HashMap<&'a [u8], usize>,
}

impl<'a> Layout<'a> {
    fn of(files: &'a [FileRecord]) -> Layout<'a> {
        let mut layout = Layout {
            expected: files
                .iter()
                .map(|f| if matches!(f.kind, FileKind::Regular | FileKind::Symlink) { f.size } else { 0 })
                .collect(),
            carries_content: files.iter().map(|f| f.kind == FileKind::Regular).collect(),
            by_name: HashMap::with_capacity_and_hasher(files.len(), Default::default()),
        };
        // The last member of a hardlink set (regular files of one stored copy: one device
        // and inode, see package::file_records) carries the content, as rpm writes it; a
        // %ghost file is not in the payload.
        let mut last_of_set: HashMap<(u64, u64), usize> = HashMap::default();
        for (index, file) in files.iter().enumerate() {
            if file.ghost {
                (layout.expected[index], layout.carries_content[index]) = (0, false);
            } else if file.kind == FileKind::Regular {
                if let Some(before) = last_of_set.insert(file.storage, index) {
                    (layout.expected[before], layout.carries_content[before]) = (0, false);
                }
            }
            let name = file.path.strip_prefix(b"/").unwrap_or(&file.path);
            layout.by_name.entry(name).or_insert(index);
        }
        layout
    }
}

/// Why one payload entry could not be read.
enum EntryError {
    /// The entry (of the file at this index) holds another number of bytes than the header
    /// says: how many.
    Size(usize, String),
    /// The archive is not what rpm writes.
    Corrupt(String),
    Read(io::Error),
}

impl From<io::Error> for EntryError {
    fn from(e: io::Error) -> EntryError {
        match e.kind() {
            io::ErrorKind::UnexpectedEof => EntryError::Corrupt("the archive ends inside an entry".into()),
            _ => EntryError::Read(e),
        }
    }
}

/// Reads one entry: the index in the header of its file, `None` at the trailer.
fn next_entry(
    archive: &mut dyn BufRead,
    files: &[FileRecord],
    layout: &Layout<'_>,
    seen: &mut [bool],
    wanted: &HashSet<Vec<u8>>,
    on_file: &mut impl FnMut(&[u8], &mut dyn Read) -> io::Result<()>,
) -> Result<Option<usize>, EntryError> {
    let mut magic = [0u8; 6];
    archive.read_exact(&mut magic).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => EntryError::Corrupt("the archive ends before its trailer".into()),
        _ => EntryError::Read(e),
    })?;
    let (index, recorded_size) = match &magic {
        NEWC | NEWC_WITH_CHECKSUM => {
            let mut fields = [0u8; NEWC_FIELDS_LEN];
            archive.read_exact(&mut fields)?;
            let field = |n: usize| hex_field(&fields[n * 8..n * 8 + 8]);
            let (size, name_len) = (field(6)?, field(11)? as usize);
            if name_len == 0 || name_len > MAX_NAME_LEN {
                return Err(EntryError::Corrupt(format!("an entry name of {name_len} bytes")));
            }
            let mut name = vec![0u8; name_len];
            archive.read_exact(&mut name)?;
            skip(archive, padding(NEWC_HEADER_LEN as u64 + name_len as u64))?;
            if name.pop() != Some(0) {
                return Err(EntryError::Corrupt("an entry name without its NUL".into()));
            }
            // Some writers pad the name with more NULs.
            while name.last() == Some(&0) {
                name.pop();
            }
            if name == TRAILER {
                return Ok(None);
            }
            let installed = name.strip_prefix(b"./").unwrap_or(&name);
            let Some(&index) = layout.by_name.get(installed) else {
                let name = quote(Path::new(OsStr::from_bytes(&name)));
                return Err(EntryError::Corrupt(format!("an entry names {name}, which the header does not list")));
            };
            (index, Some(u64::from(size)))
        }
        STRIPPED => {
            let mut field = [0u8; 8];
            archive.read_exact(&mut field)?;
            skip(archive, padding(STRIPPED_HEADER_LEN as u64))?;
            let index = hex_field(&field)?;
            if index == u32::MAX {
                return Ok(None);
            }
            let index = index as usize;
            if index >= files.len() {
                return Err(EntryError::Corrupt(format!("an entry names file {index} of {}", files.len())));
            }
            (index, None)
        }
        _ => return Err(EntryError::Corrupt("an entry is not a cpio entry rpm writes (bad magic)".into())),
    };
    if std::mem::replace(&mut seen[index], true) {
        let entry = quote(Path::new(OsStr::from_bytes(&files[index].path)));
        return Err(EntryError::Corrupt(format!("{entry} has two entries")));
    }
    let expected = layout.expected[index];
    match recorded_size {
        Some(size) if size > expected => {
            return Err(EntryError::Size(index, format!("more than the {expected} bytes the header records for it")));
        }
        Some(size) if size < expected => {
            return Err(EntryError::Size(index, format!("{size} bytes, the header records {expected}")))
        }
        _ => {}
    }
    let path = &files[index].path;
    let mut entry = Counted { inner: archive.take(expected), count: 0 };
    if layout.carries_content[index] && wanted.contains(path) {
        on_file(path, &mut entry).map_err(EntryError::Read)?;
    }
    io::copy(&mut entry, &mut io::sink()).map_err(EntryError::Read)?;
    if entry.count < expected {
        return Err(EntryError::Size(index, format!("{} bytes, the header records {expected}", entry.count)));
    }
    skip(archive, padding(expected))?;
    Ok(Some(index))
}

/// The bytes that pad `len` bytes to a multiple of 4.
fn padding(len: u64) -> u64 {
    (4 - len % 4) % 4
}

fn skip(archive: &mut dyn BufRead, len: u64) -> io::Result<()> {
    let skipped = io::copy(&mut archive.take(len), &mut io::sink())?;
    if skipped < len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// A cpio header field: 8 hex digits.
fn hex_field(digits: &[u8]) -> Result<u32, EntryError> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|text| u32::from_str_radix(text, 16).ok())
        .filter(|_| digits.iter().all(u8::is_ascii_hexdigit))
        .ok_or_else(|| EntryError::Corrupt(format!("an entry header field is not hex ({})", digits.escape_ascii())))
}

/// The payload of the package open as `file`, decompressed by what its first bytes say, and
/// held to [`MAX_EXPANSION`].
fn decompressed(location: &Path, mut file: File, payload_start: u64) -> Result<Box<dyn BufRead>, Error> {
    file.seek(SeekFrom::Start(payload_start)).map_err(|e| Error::io(location, e))?;
    let compressed = Rc::new(Cell::new(0));
    let mut input = BufReader::with_capacity(64 << 10, Tally { inner: file, count: Rc::clone(&compressed) });
    let start = input.fill_buf().map_err(|e| Error::io(location, e))?;
    let decoder: Box<dyn Read> = if start.starts_with(&GZIP_MAGIC) {
        // Every member: rpm reads a gzip payload of several members (zlib's gzread) whole.
        Box::new(flate2::bufread::MultiGzDecoder::new(input))
    } else if start.starts_with(&ZSTD_MAGIC) {
        Box::new(
            zstd::stream::read::Decoder::with_buffer(input)
                .map_err(|e| package_error(location, format!("payload: {e}")))?,
        )
    } else if start.starts_with(&XZ_MAGIC) {
        // With a memory limit: a crafted stream asking for more is refused.
        let stream = liblzma::stream::Stream::new_stream_decoder(XZ_DECODER_MEMORY_LIMIT, 0)
            .map_err(|e| package_error(location, format!("payload: {e}")))?;
        Box::new(liblzma::bufread::XzDecoder::new_stream(input, stream))
    } else {
        // Not compressed ("identity"), or not a payload: its first entry says which.
        return Ok(Box::new(input));
    };
    let limited = ExpansionLimit { inner: decoder, compressed, expanded: 0 };
    Ok(Box::new(BufReader::with_capacity(64 << 10, limited)))
}

/// Counts the bytes read from a reader into a counter shared with [`ExpansionLimit`].
struct Tally<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Tally<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get().saturating_add(n as u64));
        Ok(n)
    }
}

/// A decompressed stream that fails once it has given more than [`MAX_EXPANSION`] times the
/// compressed bytes read so far, past [`EXPANSION_ALLOWANCE`].
struct ExpansionLimit<R> {
    inner: R,
    compressed: Rc<Cell<u64>>,
    expanded: u64,
}

impl<R: Read> Read for ExpansionLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.expanded = self.expanded.saturating_add(n as u64);
        let compressed = self.compressed.get();
        if self.expanded > compressed.saturating_mul(MAX_EXPANSION).saturating_add(EXPANSION_ALLOWANCE) {
            return Err(io::Error::other(format!(
                "expands more than {MAX_EXPANSION} times ({} bytes from {compressed}), which brp-pyc does not read on",
                self.expanded
            )));
        }
        Ok(n)
    }
}

/// Counts what passes through a reader.
struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}
