//! Inventory of a built `.rpm` from its headers alone; [`super::payload`] reads (for `check`)
//! selected file contents from its payload.
//!
//! Header sizes are checked against the file before anything is allocated for them. The
//! inventory reads only the tags it needs, straight from the header bytes
//! ([`super::rpm_header`], every access bounds-checked). A payload shorter than the signature
//! header says is refused.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::model::{Content, FileDigest, FileKind, FileRecord, Inventory, ItemKind, MAX_INSTALLED_SIZE};
use super::rpm_header;
use crate::error::Error;

const LEAD_LEN: u64 = 96;
const HEADER_INTRO_LEN: u64 = 16;
const HEADER_MAGIC: [u8; 3] = [0x8e, 0xad, 0xe8];
/// rpm's own limits (`hdrchkTags`, `hdrchkData`): larger headers are corrupt by definition.
const MAX_INDEX_ENTRIES: u64 = 0xffff;
const MAX_DATA_LEN: u64 = 0x0fff_ffff;

pub(super) fn package_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Package { path: path.to_path_buf(), reason: reason.into() }
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
/// count can neither overflow nor make the parser allocate gigabytes; says where each header
/// is and where the payload starts.
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

/// Header tags read for the inventory and the payload (rpm's `rpmTag` numbers).
pub(super) mod tag {
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
    pub const PAYLOADCOMPRESSOR: u32 = 1125;
}

/// The device of a file in no hardlink set, with its index in the header as its inode: no
/// header holds it (FILEDEVICES are 32-bit).
const OWN_COPY: u64 = u64::MAX - 1;

/// `%ghost` in FILEFLAGS (`RPMFILE_GHOST`).
const FILE_FLAG_GHOST: u64 = 1 << 6;

/// The two headers of a package, read in one piece from the signature's index to the payload.
pub(super) struct Headers {
    bytes: Vec<u8>,
    spans: Spans,
    first_index: u64,
}

impl Headers {
    /// Reads and checks the lead and both headers of the package open as `file`, and that the
    /// payload is as long as the signature says.
    pub(super) fn read(path: &Path, file: &File) -> Result<Headers, Error> {
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let spans = header_spans(path, file, file_len)?;
        // Both headers, from the signature's index to the payload: at most twice rpm's limits.
        let first_index = spans.signature.intro + HEADER_INTRO_LEN;
        let mut bytes = vec![0u8; (spans.payload_start - first_index) as usize];
        file.read_exact_at(&mut bytes, first_index).map_err(|e| Error::io(path, e))?;
        let headers = Headers { bytes, spans, first_index };
        let (Some(signature), Some(_)) = (headers.at(headers.spans.signature), headers.at(headers.spans.header)) else {
            return Err(package_error(path, "truncated in the header"));
        };
        check_payload_length(path, &signature, headers.spans.header.intro, headers.spans.payload_start, file_len)?;
        Ok(headers)
    }

    fn at(&self, span: HeaderSpan) -> Option<rpm_header::Header<'_>> {
        let start = (span.intro + HEADER_INTRO_LEN - self.first_index) as usize;
        self.bytes
            .get(start..)
            .and_then(|rest| rpm_header::Header::new(rest, span.entries as usize, span.data_len as usize))
    }

    /// The main header (checked in bounds by [`Headers::read`]).
    pub(super) fn header(&self) -> rpm_header::Header<'_> {
        self.at(self.spans.header).expect("checked when read")
    }

    /// Where the payload starts in the file.
    pub(super) fn payload_start(&self) -> u64 {
        self.spans.payload_start
    }
}

/// Reads the lead and headers of `path` (never the payload) into an inventory: the two
/// headers in one read, then only the tags the audit uses, straight from their bytes.
pub fn inventory(path: &Path) -> Result<Inventory, Error> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let headers = Headers::read(path, &file)?;
    let header = headers.header();
    let mut files = file_records(&header).map_err(|e| package_error(path, format!("corrupt header ({e})")))?;
    // rpm lists files sorted already; the sort only checks that in one pass then.
    files.sort_by(|a, b| a.path.cmp(&b.path));
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
        Some(Err(size)) => {
            Err(package_error(path, format!("corrupt signature header (records a size of {size} bytes)")))
        }
        Some(Ok(end)) if end > file_len => {
            Err(package_error(path, format!("truncated: {file_len} bytes, the signature header records {end}")))
        }
        None if file_len <= payload_start => Err(package_error(path, "no payload")),
        _ => Ok(()),
    }
}

/// Why the file arrays of a header do not make a file list.
pub(super) enum ArrayError {
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

/// The files a header lists, in the header's order (a stripped payload names its entries by
/// that index): every per-file array must have one item per name.
pub(super) fn file_records(header: &rpm_header::Header<'_>) -> Result<Vec<FileRecord>, ArrayError> {
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
    let (digests, links, users, groups) = (
        strings(tag::FILEDIGESTS)?,
        strings(tag::FILELINKTOS)?,
        strings(tag::FILEUSERNAME)?,
        strings(tag::FILEGROUPNAME)?,
    );
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
        let dirname =
            usize::try_from(dir_index).ok().and_then(|d| dirnames.get(d)).ok_or(ArrayError::DirIndex(dir_index))?;
        let mode = item(&modes, i) as u32 & 0xffff;
        let owner = match &last_owner {
            Some((user, group, owner)) if *user == users[i] && *group == groups[i] => owner.clone(),
            _ => {
                let owner: Arc<str> = format!("{}:{}", text(users[i]), text(groups[i])).into();
                last_owner = Some((users[i], groups[i], owner.clone()));
                owner
            }
        };
        let kind = match mode & 0o170000 {
            0o100000 => FileKind::Regular,
            0o040000 => FileKind::Directory,
            0o120000 => FileKind::Symlink,
            _ => FileKind::Other,
        };
        let ghost = item(&flags, i) & FILE_FLAG_GHOST != 0;
        let inode = item(&inodes, i);
        // rpm makes hardlink sets only of regular files, not %ghost, with a device and an
        // inode other than 0 (rpmfilesBuildNLink); any other file is a stored copy of its own,
        // installed and carried in the payload alone.
        let storage = match devices {
            Some(devices) if kind == FileKind::Regular && !ghost && inode != 0 => (item(&devices, i), inode),
            _ => (OWN_COPY, i as u64),
        };
        files.push(FileRecord {
            path: entry_path_bytes(dirname, basenames[i]),
            kind,
            size: item(&sizes, i),
            storage,
            content: Content::Digest(FileDigest::from_text(digests[i])),
            mode,
            owner,
            mtime: item(&mtimes, i) as u32 as i64,
            ghost,
            link_target: links[i].into(),
        });
    }
    Ok(files)
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
