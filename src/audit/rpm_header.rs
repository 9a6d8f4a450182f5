//! The few tags of an rpm header that `stats` and `check` read, straight from the header's
//! bytes: one read per package, no owned copy of every tag, no `String` per file.
//!
//! A header is an intro (magic, entry count, data length), an index of 16-byte entries (tag,
//! type, offset, count; big-endian) and a data section. Every access is checked here, whatever
//! the caller validated before: an entry whose items run past the data section, a string
//! without its NUL, a count that does not fit, or a tag of an unexpected type is an error, never
//! a panic or an out-of-bounds read.

/// rpm's tag types (`rpmTagType`).
const INT16: u32 = 3;
const INT32: u32 = 4;
const INT64: u32 = 5;
const STRING: u32 = 6;
const STRING_ARRAY: u32 = 8;
const I18N_STRING: u32 = 9;

/// Why a tag could not be read; the caller names the package and the header.
#[derive(Debug, PartialEq, Eq)]
pub enum TagError {
    /// The tag has another type than the one it is read as.
    Type { tag: u32, found: u32 },
    /// Its items do not fit in the data section.
    OutOfBounds { tag: u32 },
}

impl std::fmt::Display for TagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TagError::Type { tag, found } => write!(f, "tag {tag} has the unexpected type {found}"),
            TagError::OutOfBounds { tag } => write!(f, "tag {tag} points outside the header's data"),
        }
    }
}

/// One header: its index entries and data section, borrowed from the bytes read from the file.
#[derive(Clone, Copy)]
pub struct Header<'a> {
    index: &'a [u8],
    data: &'a [u8],
}

/// One index entry, as found.
#[derive(Clone, Copy)]
struct Entry {
    tag: u32,
    kind: u32,
    offset: usize,
    count: usize,
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

impl<'a> Header<'a> {
    /// The header whose index (`entries` entries of 16 bytes) starts `bytes`, its data section
    /// (`data_len` bytes) right after; `None` when `bytes` is shorter than that.
    pub fn new(bytes: &'a [u8], entries: usize, data_len: usize) -> Option<Header<'a>> {
        let index_len = entries.checked_mul(16)?;
        let end = index_len.checked_add(data_len)?;
        let bytes = bytes.get(..end)?;
        let (index, data) = bytes.split_at(index_len);
        Some(Header { index, data })
    }

    /// The first entry with `tag`, as rpm's own `headerGet` finds it.
    fn find(&self, tag: u32) -> Option<Entry> {
        let wanted = tag.to_be_bytes();
        self.index.chunks_exact(16).find(|entry| entry[..4] == wanted).map(|entry| Entry {
            tag,
            kind: be32(&entry[4..]),
            offset: be32(&entry[8..]) as usize,
            count: be32(&entry[12..]) as usize,
        })
    }

    /// The bytes of an entry of a fixed-size type, `width` bytes per item, checked in bounds.
    fn fixed(&self, entry: Entry, width: usize) -> Result<&'a [u8], TagError> {
        let out_of_bounds = || TagError::OutOfBounds { tag: entry.tag };
        let len = entry.count.checked_mul(width).ok_or_else(out_of_bounds)?;
        let end = entry.offset.checked_add(len).ok_or_else(out_of_bounds)?;
        self.data.get(entry.offset..end).ok_or_else(out_of_bounds)
    }

    /// An integer array tag (INT16, INT32 or INT64, as its type says), widened to `u64`;
    /// `None` when the header has no such tag.
    pub fn numbers(&self, tag: u32) -> Result<Option<Numbers<'a>>, TagError> {
        let Some(entry) = self.find(tag) else { return Ok(None) };
        let width = match entry.kind {
            INT16 => 2,
            INT32 => 4,
            INT64 => 8,
            found => return Err(TagError::Type { tag, found }),
        };
        Ok(Some(Numbers { bytes: self.fixed(entry, width)?, width }))
    }

    /// A string array tag (a single STRING counts as an array of one), each string without its
    /// NUL; `None` when the header has no such tag.
    pub fn strings(&self, tag: u32) -> Result<Option<Vec<&'a [u8]>>, TagError> {
        let Some(entry) = self.find(tag) else { return Ok(None) };
        if !matches!(entry.kind, STRING | STRING_ARRAY | I18N_STRING) {
            return Err(TagError::Type { tag, found: entry.kind });
        }
        let count = if entry.kind == STRING { 1 } else { entry.count };
        let mut rest = self.data.get(entry.offset..).ok_or(TagError::OutOfBounds { tag })?;
        // Each string takes at least its NUL: a count larger than the data is corrupt, and
        // refusing it first keeps the allocation below bounded by the header's size.
        if count > rest.len() {
            return Err(TagError::OutOfBounds { tag });
        }
        let mut strings = Vec::with_capacity(count);
        for _ in 0..count {
            let nul = memchr::memchr(0, rest).ok_or(TagError::OutOfBounds { tag })?;
            strings.push(&rest[..nul]);
            rest = &rest[nul + 1..];
        }
        Ok(Some(strings))
    }
}

/// The items of an integer array tag, read on demand.
#[derive(Clone, Copy)]
pub struct Numbers<'a> {
    bytes: &'a [u8],
    width: usize,
}

impl Numbers<'_> {
    pub fn len(&self) -> usize {
        self.bytes.len() / self.width
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Item `i` (big-endian); `None` past the end.
    pub fn get(&self, i: usize) -> Option<u64> {
        let at = i.checked_mul(self.width)?;
        let item = self.bytes.get(at..at.checked_add(self.width)?)?;
        Some(item.iter().fold(0u64, |value, &b| (value << 8) | u64::from(b)))
    }

    /// The first item, for tags that hold one number.
    pub fn first(&self) -> Option<u64> {
        self.get(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header with the given entries (tag, type, offset, count) over `data`.
    fn header_bytes(entries: &[(u32, u32, u32, u32)], data: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for (tag, kind, offset, count) in entries {
            for word in [tag, kind, offset, count] {
                bytes.extend_from_slice(&word.to_be_bytes());
            }
        }
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn numbers_and_strings_are_read_by_type() {
        let data = b"\0\x07\0\x08\0\0\0\x09a\0bc\0";
        let bytes =
            header_bytes(&[(1, INT16, 0, 2), (2, INT32, 4, 1), (3, STRING_ARRAY, 8, 2), (4, STRING, 11, 1)], data);
        let header = Header::new(&bytes, 4, data.len()).unwrap();
        let shorts = header.numbers(1).unwrap().unwrap();
        assert_eq!((shorts.len(), shorts.get(0), shorts.get(1), shorts.get(2)), (2, Some(7), Some(8), None));
        assert_eq!(header.numbers(2).unwrap().unwrap().first(), Some(9));
        assert_eq!(header.strings(3).unwrap().unwrap(), vec![&b"a"[..], b"bc"]);
        assert_eq!(header.strings(4).unwrap().unwrap(), vec![&b"c"[..]]);
        assert!(header.numbers(5).unwrap().is_none());
        assert_eq!(header.strings(1).err(), Some(TagError::Type { tag: 1, found: INT16 }));
        assert_eq!(header.numbers(3).err(), Some(TagError::Type { tag: 3, found: STRING_ARRAY }));
    }

    #[test]
    fn entries_past_the_data_are_refused() {
        let data = b"\0\0\0\x01ab\0c";
        let crafted = [
            (1, INT32, 0, 3),
            (2, INT64, u32::MAX, u32::MAX),
            (3, STRING_ARRAY, 4, 2),
            (4, STRING_ARRAY, 4, u32::MAX),
            (5, STRING, 99, 1),
        ];
        let bytes = header_bytes(&crafted, data);
        let header = Header::new(&bytes, crafted.len(), data.len()).unwrap();
        assert_eq!(header.numbers(1).err(), Some(TagError::OutOfBounds { tag: 1 }));
        assert_eq!(header.numbers(2).err(), Some(TagError::OutOfBounds { tag: 2 }));
        // "ab" has its NUL, "c" has none before the data ends.
        assert_eq!(header.strings(3).err(), Some(TagError::OutOfBounds { tag: 3 }));
        assert_eq!(header.strings(4).err(), Some(TagError::OutOfBounds { tag: 4 }));
        assert_eq!(header.strings(5).err(), Some(TagError::OutOfBounds { tag: 5 }));
        assert!(Header::new(&bytes, crafted.len(), data.len() + 1).is_none());
        assert!(Header::new(&bytes, usize::MAX, 1).is_none());
    }
}
