//! Inventory of a built `.rpm` from its headers alone, and (for `check`) selected file
//! contents from its payload.
//!
//! Header sizes are checked against the file before anything is allocated for them. The
//! inventory reads only the tags it needs, straight from the header bytes
//! ([`super::rpm_header`], every access bounds-checked); the payload is read with the `rpm`
//! crate, whose panics on malformed input become an error naming the package. A payload
//! shorter than the signature header says is refused.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;

use rpm::{FileType, IndexTag, PackageMetadata, PackageReader};

use crate::error::Error;
use crate::render::quote;
use super::model::{Content, FileDigest, FileKind, FileRecord, Inventory, ItemKind, MAX_INSTALLED_SIZE};
use super::rpm_header;

const LEAD_LEN: u64 = 96;
const HEADER_INTRO_LEN: u64 = 16;
const HEADER_MAGIC: [u8; 3] = [0x8e, 0xad, 0xe8];
/// rpm's own limits (`hdrchkTags`, `hdrchkData`): larger headers are corrupt by definition.
const MAX_INDEX_ENTRIES: u64 = 0xffff;
const MAX_DATA_LEN: u64 = 0x0fff_ffff;

fn package_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Package { path: path.to_path_buf(), reason: reason.into() }
}

/// Runs a parse step of the `rpm` crate, turning a panic on malformed input into an error.
fn guarded<T>(path: &Path, step: impl FnOnce() -> Result<T, rpm::Error>) -> Result<T, Error> {
    match catch_unwind(AssertUnwindSafe(step)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(package_error(path, e.to_string())),
        Err(_) => Err(package_error(path, "malformed package (the rpm reader gave up)")),
    }
}

/// Where the two headers of a package are, as [`header_spans`] found and checked them.
struct Spans {
    signature: HeaderSpan,
    header: HeaderSpan,
    payload_start: u64,
}

/// One header: where its intro is, its entry count and data length (each within rpm's limits,
/// the whole inside the file).
#[derive(Clone, Copy)]
struct HeaderSpan {
    intro: u64,
    entries: u64,
    data_len: u64,
}

/// Checks the lead and the two header intros against the file's length, so that a corrupt
/// count can neither overflow nor make the parser allocate gigabytes. Returns where the
/// payload starts.
fn check_layout(path: &Path, file: &File, file_len: u64) -> Result<u64, Error> {
    header_spans(path, file, file_len).map(|spans| spans.payload_start)
}

/// [`check_layout`], with where each header is.
fn header_spans(path: &Path, file: &File, file_len: u64) -> Result<Spans, Error> {
    let mut lead = [0u8; 4];
    file.read_exact_at(&mut lead, 0).map_err(|_| package_error(path, "too short to be an rpm package"))?;
    if lead != [0xed, 0xab, 0xee, 0xdb] {
        return Err(package_error(path, "not an rpm package (no rpm lead)"));
    }
    let mut offset = LEAD_LEN;
    let mut spans = Vec::with_capacity(2);
    for (which, pad) in [("signature header", true), ("header", false)] {
        let mut intro = [0u8; HEADER_INTRO_LEN as usize];
        file.read_exact_at(&mut intro, offset).map_err(|_| package_error(path, format!("truncated in the {which}")))?;
        if intro[..3] != HEADER_MAGIC {
            return Err(package_error(path, format!("corrupt {which} (bad magic)")));
        }
        let entries = u64::from(u32::from_be_bytes([intro[8], intro[9], intro[10], intro[11]]));
        let data_len = u64::from(u32::from_be_bytes([intro[12], intro[13], intro[14], intro[15]]));
        if entries == 0 || entries > MAX_INDEX_ENTRIES || data_len > MAX_DATA_LEN {
            return Err(package_error(path, format!("corrupt {which} ({entries} entries, {data_len} bytes)")));
        }
        let mut end = offset + HEADER_INTRO_LEN + entries * 16 + data_len;
        if end > file_len {
            return Err(package_error(path, format!("truncated in the {which}")));
        }
        let mut index = vec![0u8; (entries * 16) as usize];
        file.read_exact_at(&mut index, offset + HEADER_INTRO_LEN).map_err(|e| Error::io(path, e))?;
        if !index.chunks_exact(16).all(|entry| entry_in_bounds(entry, data_len)) {
            return Err(package_error(path, format!("corrupt {which} (an entry points outside its data)")));
        }
        spans.push(HeaderSpan { intro: offset, entries, data_len });
        if pad {
            end = end.next_multiple_of(8);
        }
        if end > file_len {
            return Err(package_error(path, format!("truncated in the {which}")));
        }
        offset = end;
    }
    Ok(Spans { signature: spans[0], header: spans[1], payload_start: offset })
}

/// Whether one index entry (tag, type, offset, count; big-endian) stays inside the data
/// section, as rpm's own `headerVerifyInfo` demands: the parser slices without checking.
fn entry_in_bounds(entry: &[u8], data_len: u64) -> bool {
    let word = |at: usize| u64::from(u32::from_be_bytes([entry[at], entry[at + 1], entry[at + 2], entry[at + 3]]));
    let (kind, offset, count) = (word(4), word(8), word(12));
    // Bytes per item of the fixed-size types; strings are at least one byte (their NUL) each.
    let item_len = match kind {
        0 => 0,
        1 | 2 | 6 | 7 | 8 | 9 => 1,
        3 => 2,
        4 => 4,
        5 => 8,
        _ => return false,
    };
    offset <= data_len && offset + count * item_len <= data_len
}

/// Header tags read for the inventory (rpm's `rpmTag` numbers).
mod tag {
    pub const SIG_SIZE: u32 = 1000;
    pub const NAME: u32 = 1000;
    pub const SIG_LONGSIZE: u32 = 270;
    pub const FILESIZES: u32 = 1028;
    pub const FILEMODES: u32 = 1030;
    pub const FILEMTIMES: u32 = 1034;
    pub const FILEDIGESTS: u32 = 1035;
    pub const FILELINKTOS: u32 = 1036;
    pub const FILEFLAGS: u32 = 1037;
    pub const FILEUSERNAME: u32 = 1039;
    pub const FILEGROUPNAME: u32 = 1040;
    pub const FILEDEVICES: u32 = 1095;
    pub const FILEINODES: u32 = 1096;
    pub const DIRINDEXES: u32 = 1116;
    pub const BASENAMES: u32 = 1117;
    pub const DIRNAMES: u32 = 1118;
    pub const LONGFILESIZES: u32 = 5008;
}

/// `%ghost` in FILEFLAGS (`RPMFILE_GHOST`).
const FILE_FLAG_GHOST: u64 = 1 << 6;

/// Reads the lead and headers of `path` (never the payload) into an inventory: the two
/// headers in one read, then only the tags the audit uses, straight from their bytes.
pub fn inventory(path: &Path) -> Result<Inventory, Error> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let spans = header_spans(path, &file, file_len)?;
    // Both headers, from the signature's index to the payload: at most twice rpm's limits.
    let first_index = spans.signature.intro + HEADER_INTRO_LEN;
    let mut bytes = vec![0u8; (spans.payload_start - first_index) as usize];
    file.read_exact_at(&mut bytes, first_index).map_err(|e| Error::io(path, e))?;
    let header_at = |span: HeaderSpan| {
        let start = (span.intro + HEADER_INTRO_LEN - first_index) as usize;
        bytes.get(start..).and_then(|rest| rpm_header::Header::new(rest, span.entries as usize, span.data_len as usize))
    };
    let (Some(signature), Some(header)) = (header_at(spans.signature), header_at(spans.header)) else {
        return Err(package_error(path, "truncated in the header"));
    };
    check_payload_length(path, &signature, spans.header.intro, spans.payload_start, file_len)?;
    let files = file_records(&header).map_err(|e| package_error(path, format!("corrupt header ({e})")))?;
    // Sizes are summed later (a package, all items of a run): refuse sizes no package has.
    let total = files.iter().try_fold(0u64, |total, f| total.checked_add(f.size)).filter(|&t| t <= MAX_INSTALLED_SIZE);
    if total.is_none() {
        return Err(package_error(path, "corrupt header (its file sizes add up to more than 1 PiB)"));
    }
    // The package's name (the header's NAME, not the file's), for the owners of bytecode
    // subpackages.
    let package_name = match header.strings(tag::NAME) {
        Ok(Some(names)) if names.len() == 1 => String::from_utf8_lossy(names[0]).into_owned(),
        _ => return Err(package_error(path, "corrupt header (no package name)")),
    };
    let package_name = Some(package_name);
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    Ok(Inventory { kind: ItemKind::Package, location: path.to_path_buf(), name, files, package_name })
}

/// Refuses a package whose payload is missing or shorter than the signature header records
/// (header plus payload size), which is how a truncated download or copy shows.
fn check_payload_length(
    path: &Path,
    signature: &rpm_header::Header<'_>,
    header_start: u64,
    payload_start: u64,
    file_len: u64,
) -> Result<(), Error> {
    // LONGSIZE when it is there (rpm writes it for packages past 4 GiB), else SIZE; one that
    // cannot be read counts as absent, as with rpm, which then checks nothing.
    let number = |tag| signature.numbers(tag).ok().flatten().and_then(|n| n.first());
    let recorded = number(tag::SIG_LONGSIZE).or_else(|| number(tag::SIG_SIZE));
    // The size is read from the file: a crafted one must not overflow.
    let recorded_end = recorded.map(|size| header_start.checked_add(size).ok_or(size));
    match recorded_end {
        Some(Err(size)) => Err(package_error(path, format!("corrupt signature header (records a size of {size} bytes)"))),
        Some(Ok(end)) if end > file_len => {
            Err(package_error(path, format!("truncated: {file_len} bytes, the signature header records {end}")))
        }
        None if file_len <= payload_start => Err(package_error(path, "no payload")),
        _ => Ok(()),
    }
}

/// Why the file arrays of a header do not make a file list.
enum ArrayError {
    Tag(rpm_header::TagError),
    Missing(u32),
    Lengths,
    DirIndex(u64),
}

impl std::fmt::Display for ArrayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArrayError::Tag(e) => e.fmt(f),
            ArrayError::Missing(tag) => write!(f, "no tag {tag} beside the file names"),
            ArrayError::Lengths => f.write_str("its file arrays differ in length"),
            ArrayError::DirIndex(index) => write!(f, "a file names directory {index}, past the directory list"),
        }
    }
}

impl From<rpm_header::TagError> for ArrayError {
    fn from(e: rpm_header::TagError) -> ArrayError {
        ArrayError::Tag(e)
    }
}

/// A header string as text: names are ASCII in every real package, which the plain check
/// finds fastest; anything else is shown with replacement characters.
fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.into(),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// The files a header lists, sorted by path: every per-file array must have one item per name.
fn file_records(header: &rpm_header::Header<'_>) -> Result<Vec<FileRecord>, ArrayError> {
    let (basenames, dirnames, dir_indexes) =
        (header.strings(tag::BASENAMES)?, header.strings(tag::DIRNAMES)?, header.numbers(tag::DIRINDEXES)?);
    let (Some(basenames), Some(dirnames), Some(dir_indexes)) = (basenames, dirnames, dir_indexes) else {
        return Ok(Vec::new()); // no files (a package may own none)
    };
    let numbers = |tag| header.numbers(tag)?.ok_or(ArrayError::Missing(tag));
    let strings = |tag| header.strings(tag)?.ok_or(ArrayError::Missing(tag));
    let sizes = match header.numbers(tag::LONGFILESIZES)? {
        Some(sizes) => sizes,
        None => numbers(tag::FILESIZES)?,
    };
    let (modes, mtimes, flags, inodes) =
        (numbers(tag::FILEMODES)?, numbers(tag::FILEMTIMES)?, numbers(tag::FILEFLAGS)?, numbers(tag::FILEINODES)?);
    // FILEDEVICES is 1 for every file of a modern package, but rpm keys hardlink sets on both.
    let devices = header.numbers(tag::FILEDEVICES)?;
    let (digests, links, users, groups) =
        (strings(tag::FILEDIGESTS)?, strings(tag::FILELINKTOS)?, strings(tag::FILEUSERNAME)?, strings(tag::FILEGROUPNAME)?);
    let n = basenames.len();
    let same_length = [dir_indexes.len(), sizes.len(), modes.len(), mtimes.len(), flags.len(), inodes.len()]
        .into_iter()
        .chain(devices.map(|d| d.len()))
        .chain([digests.len(), links.len(), users.len(), groups.len()])
        .all(|len| len == n);
    if !same_length {
        return Err(ArrayError::Lengths);
    }
    // Checked above: every array has n items, so `get(i)` below is always `Some`.
    let item = |numbers: &rpm_header::Numbers<'_>, i| numbers.get(i).unwrap_or(0);
    let mut files = Vec::with_capacity(n);
    // The owner of the file before: a package's files have one or a few owners, shared.
    let mut last_owner: Option<(&[u8], &[u8], Arc<str>)> = None;
    for i in 0..n {
        let dir_index = item(&dir_indexes, i);
        let dirname = usize::try_from(dir_index).ok().and_then(|d| dirnames.get(d)).ok_or(ArrayError::DirIndex(dir_index))?;
        let mode = item(&modes, i) as u32 & 0xffff;
        let owner = match &last_owner {
            Some((user, group, owner)) if *user == users[i] && *group == groups[i] => owner.clone(),
            _ => {
                let owner: Arc<str> = format!("{}:{}", text(users[i]), text(groups[i])).into();
                last_owner = Some((users[i], groups[i], owner.clone()));
                owner
            }
        };
        files.push(FileRecord {
            path: entry_path_bytes(dirname, basenames[i]),
            kind: match mode & 0o170000 {
                0o100000 => FileKind::Regular,
                0o040000 => FileKind::Directory,
                0o120000 => FileKind::Symlink,
                _ => FileKind::Other,
            },
            size: item(&sizes, i),
            storage: (devices.map_or(0, |d| item(&d, i)), item(&inodes, i)),
            content: Content::Digest(FileDigest::from_text(digests[i])),
            mode,
            owner,
            mtime: item(&mtimes, i) as u32 as i64,
            ghost: item(&flags, i) & FILE_FLAG_GHOST != 0,
            link_target: links[i].into(),
        });
    }
    // rpm lists files sorted already; the sort only checks that in one pass then.
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The payload compressions read here; rpm also writes bzip2 and lzma (`w9.bzdio`,
/// `w9.lzdio`), which the `rpm` crate would report as a bad magic number.
const READ_COMPRESSORS: [&str; 4] = ["gzip", "zstd", "xz", "identity"];

/// Refuses, naming the compression, a payload this build cannot decompress.
fn check_payload_compressor(location: &Path) -> Result<(), Error> {
    let file = File::open(location).map_err(|e| Error::io(location, e))?;
    let meta = guarded(location, || PackageMetadata::parse(&mut BufReader::new(file)))?;
    match meta.header.get_entry_data_as_string(IndexTag::RPMTAG_PAYLOADCOMPRESSOR) {
        Ok(name) if !READ_COMPRESSORS.contains(&name) => Err(package_error(
            location,
            format!("payload compressed with {name}, which brp-pyc does not read (it reads gzip, zstd and xz)"),
        )),
        _ => Ok(()),
    }
}

fn entry_path(dirname: &str, basename: &str) -> Vec<u8> {
    entry_path_bytes(dirname.as_bytes(), basename.as_bytes())
}

/// An installed path from its directory (with or without the trailing slash rpm writes) and name.
fn entry_path_bytes(dirname: &[u8], basename: &[u8]) -> Vec<u8> {
    let mut path = Vec::with_capacity(dirname.len() + basename.len() + 1);
    path.extend_from_slice(dirname);
    if !path.ends_with(b"/") {
        path.push(b'/');
    }
    path.extend_from_slice(basename);
    path
}

/// The most memory an xz payload's decoder may take: rpm writes xz payloads with presets up
/// to 9, whose decoder needs 65 MiB; zstd's decoder refuses windows past 128 MiB by default.
/// A crafted stream that asks for more is refused instead of being given gigabytes.
const XZ_DECODER_MEMORY_LIMIT: u64 = 128 << 20;
const XZ_MAGIC: [u8; 6] = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

/// The package as the `rpm` crate's reader takes it: the lead and headers as stored, then the
/// payload, an xz one already inside a decoder with a memory limit (the crate's own has none).
fn package_input(location: &Path, payload_start: u64) -> Result<Box<dyn BufRead>, Error> {
    let open = || File::open(location).map_err(|e| Error::io(location, e));
    let mut magic = [0u8; XZ_MAGIC.len()];
    let is_xz = open()?.read_exact_at(&mut magic, payload_start).is_ok() && magic == XZ_MAGIC;
    if !is_xz {
        return Ok(Box::new(BufReader::new(open()?)));
    }
    let headers = BufReader::new(open()?.take(payload_start));
    let mut payload = open()?;
    payload.seek(SeekFrom::Start(payload_start)).map_err(|e| Error::io(location, e))?;
    let stream = liblzma::stream::Stream::new_stream_decoder(XZ_DECODER_MEMORY_LIMIT, 0)
        .map_err(|e| package_error(location, format!("payload: {e}")))?;
    let decoder = liblzma::bufread::XzDecoder::new_stream(BufReader::new(payload), stream);
    Ok(Box::new(headers.chain(BufReader::new(decoder))))
}

/// Counts what passes through a reader.
struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Streams the payload of the package at `location` and hands the content of every file
/// whose installed path is in `wanted` (those that carry content: one member per hardlink
/// set) to `on_file`, as a reader that ends where the header says the file ends. Reads the
/// payload once, decompressing as it goes, and holds no file whole: what `on_file` leaves is
/// skipped. Every payload entry is held to the header's size for its file: an entry with more
/// bytes is refused as soon as the first byte too many is seen, one with fewer once it ends.
pub fn read_payload_files(
    location: &Path,
    wanted: &HashSet<Vec<u8>>,
    mut on_file: impl FnMut(&[u8], &mut dyn Read) -> std::io::Result<()>,
) -> Result<(), Error> {
    if wanted.is_empty() {
        return Ok(());
    }
    let file = File::open(location).map_err(|e| Error::io(location, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(location, e))?.len();
    let payload_start = check_layout(location, &file, file_len)?;
    check_payload_compressor(location)?;
    let input = package_input(location, payload_start)?;
    let mut reader = guarded(location, || PackageReader::parse(input))?;
    loop {
        let step = catch_unwind(AssertUnwindSafe(|| -> Result<bool, EntryError> {
            let Some(mut file) = reader.next_file()? else { return Ok(false) };
            let path = entry_path(file.metadata.dirname(), file.metadata.basename());
            let carries_content = file.has_payload() && file.metadata.file_type() == FileType::Regular;
            // What rpm writes: a file's content, a symlink's target, nothing for directories,
            // devices and the members of a hardlink set but the one that carries its content
            // (a directory's header size is its size on the build machine).
            let expected = match file.metadata.file_type() {
                FileType::Regular if carries_content => file.metadata.size() as u64,
                FileType::SymbolicLink => file.metadata.size() as u64,
                _ => 0,
            };
            let mut entry = Counted { inner: (&mut file).take(expected), count: 0 };
            if carries_content && wanted.contains(&path) {
                on_file(&path, &mut entry)?;
            }
            std::io::copy(&mut entry, &mut std::io::sink())?;
            let held = entry.count;
            if file.read(&mut [0u8; 1])? > 0 {
                // Dropping the entry would read it to its end (its own, crafted size) for a
                // next entry that is never read: the reader is given up here instead.
                std::mem::forget(file);
                return Err(EntryError::Size(path, format!("more than the {expected} bytes the header records for it")));
            }
            if held < expected {
                return Err(EntryError::Size(path, format!("{held} bytes, the header records {expected}")));
            }
            file.finish()?;
            Ok(true)
        }));
        match step {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return Ok(()),
            Ok(Err(EntryError::Size(path, held))) => {
                let entry = quote(Path::new(OsStr::from_bytes(&path)));
                return Err(package_error(location, format!("corrupt payload: the entry of {entry} holds {held}")));
            }
            Ok(Err(EntryError::Read(e))) => return Err(package_error(location, format!("payload: {e}"))),
            Err(_) => return Err(package_error(location, "malformed payload (the rpm reader gave up)")),
        }
    }
}

/// Why one payload entry could not be read.
enum EntryError {
    /// The entry (its installed path) holds another number of bytes than the header says.
    Size(Vec<u8>, String),
    Read(String),
}

impl From<rpm::Error> for EntryError {
    fn from(e: rpm::Error) -> EntryError {
        EntryError::Read(e.to_string())
    }
}

impl From<std::io::Error> for EntryError {
    fn from(e: std::io::Error) -> EntryError {
        EntryError::Read(e.to_string())
    }
}
