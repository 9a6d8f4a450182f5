//! Inventory of a built `.rpm` from its headers alone, and (for `check`) selected file
//! contents from its payload.
//!
//! The `rpm` crate parses; this module guards it: header sizes are checked against the file
//! before the crate allocates for them, a panic inside the crate becomes an error naming the
//! package, and a payload shorter than the signature header says is refused.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use rpm::{FileFlags, FileType, IndexSignatureTag, IndexTag, PackageMetadata, PackageReader};

use crate::error::Error;
use crate::render::quote;
use super::model::{Content, FileKind, FileRecord, Inventory, ItemKind, MAX_INSTALLED_SIZE};

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

/// Checks the lead and the two header intros against the file's length, so that a corrupt
/// count can neither overflow nor make the parser allocate gigabytes. Returns where the
/// payload starts.
fn check_layout(path: &Path, file: &File, file_len: u64) -> Result<u64, Error> {
    let mut lead = [0u8; 4];
    file.read_exact_at(&mut lead, 0).map_err(|_| package_error(path, "too short to be an rpm package"))?;
    if lead != [0xed, 0xab, 0xee, 0xdb] {
        return Err(package_error(path, "not an rpm package (no rpm lead)"));
    }
    let mut offset = LEAD_LEN;
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
        if pad {
            end = end.next_multiple_of(8);
        }
        if end > file_len {
            return Err(package_error(path, format!("truncated in the {which}")));
        }
        offset = end;
    }
    Ok(offset)
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

/// Reads the lead and headers of `path` (never the payload) into an inventory.
pub fn inventory(path: &Path) -> Result<Inventory, Error> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let payload_start = check_layout(path, &file, file_len)?;
    let mut reader = BufReader::new(file);
    let meta = guarded(path, || PackageMetadata::parse(&mut reader))?;
    check_payload_length(path, &meta, payload_start, file_len)?;
    let files = guarded(path, || file_records(&meta))?;
    // Sizes are summed later (a package, all items of a run): refuse sizes no package has.
    let total = files.iter().try_fold(0u64, |total, f| total.checked_add(f.size)).filter(|&t| t <= MAX_INSTALLED_SIZE);
    if total.is_none() {
        return Err(package_error(path, "corrupt header (its file sizes add up to more than 1 PiB)"));
    }
    let package_name = Some(guarded(path, || meta.get_name().map(str::to_string))?);
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    Ok(Inventory { kind: ItemKind::Package, location: path.to_path_buf(), name, files, package_name })
}

/// Refuses a package whose payload is missing or shorter than the signature header records
/// (header plus payload size), which is how a truncated download or copy shows.
fn check_payload_length(path: &Path, meta: &PackageMetadata, payload_start: u64, file_len: u64) -> Result<(), Error> {
    let header_start = meta.get_package_segment_offsets().header;
    let recorded = meta
        .signature
        .get_entry_data_as_u64(IndexSignatureTag::RPMSIGTAG_LONGSIZE)
        .or_else(|_| meta.signature.get_entry_data_as_u32(IndexSignatureTag::RPMSIGTAG_SIZE).map(u64::from))
        .ok();
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

fn file_records(meta: &PackageMetadata) -> Result<Vec<FileRecord>, rpm::Error> {
    let entries = meta.get_file_entries()?;
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let inodes = meta.header.get_entry_data_as_u32_array(IndexTag::RPMTAG_FILEINODES)?;
    // FILEDEVICES is 1 for every file of a modern package, but rpm keys hardlink sets on both.
    let devices = meta
        .header
        .get_entry_data_as_u32_array(IndexTag::RPMTAG_FILEDEVICES)
        .unwrap_or_else(|_| vec![0; entries.len()]);
    if inodes.len() != entries.len() || devices.len() != entries.len() {
        return Err(rpm::Error::InconsistentTagArrayLengths);
    }
    let mut files: Vec<FileRecord> = entries
        .iter()
        .enumerate()
        .map(|(i, entry)| FileRecord {
            path: entry_path(entry.dirname(), entry.basename()),
            kind: match entry.file_type() {
                FileType::Regular => FileKind::Regular,
                FileType::Dir => FileKind::Directory,
                FileType::SymbolicLink => FileKind::Symlink,
                _ => FileKind::Other,
            },
            size: entry.size() as u64,
            storage: (u64::from(devices[i]), u64::from(inodes[i])),
            content: Content::Digest(entry.digest().map_or("", |d| d.as_hex()).into()),
            mode: u32::from(entry.mode().raw_mode()),
            owner: format!("{}:{}", entry.user(), entry.group()).into(),
            mtime: i64::from(u32::from(entry.modified_at())),
            ghost: entry.flags().contains(FileFlags::GHOST),
            link_target: entry.linkto().unwrap_or("").as_bytes().into(),
        })
        .collect();
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
    let mut path = Vec::with_capacity(dirname.len() + basename.len() + 1);
    path.extend_from_slice(dirname.as_bytes());
    if !path.ends_with(b"/") {
        path.push(b'/');
    }
    path.extend_from_slice(basename.as_bytes());
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
