//! Bytecode cache headers (PEP 552) and the source hash that hash-based caches record.
//!
//! A cache starts with the interpreter's magic number (2 bytes, then `\r\n`). Python 3.7 and
//! later (and PyPy 3) follow with 4 bytes of flags and then either the source's mtime and size
//! (4 + 4, little-endian, both modulo 2**32) or, when flag bit 0 is set, a 64-bit hash of the
//! source bytes; flag bit 1 says whether the importer checks that hash. Python 3.3 to 3.6 write
//! mtime and size without flags, older Pythons only the mtime.

use crate::link::classify::Scheme;

/// What the header of one cache says about its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Validation {
    /// The source's mtime and, where the format has it, its size, each modulo 2**32.
    Timestamp { mtime: u32, size: Option<u32> },
    /// The source hash; `checked` is false for `unchecked-hash` caches, which Python uses
    /// without looking at the source.
    Hash { hash: [u8; 8], checked: bool },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub magic: [u8; 4],
    pub validation: Validation,
}

/// Why a header cannot be used: Python would reject the cache and compile again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderProblem {
    TooShort(usize),
    BadMagic,
    UnknownFlags(u32),
}

impl std::fmt::Display for HeaderProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderProblem::TooShort(n) => write!(f, "{n} bytes: shorter than a cache header"),
            HeaderProblem::BadMagic => f.write_str("no bytecode magic number"),
            HeaderProblem::UnknownFlags(flags) => write!(f, "unknown header flags {flags:#x}"),
        }
    }
}

/// The header formats that have existed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// PEP 552: magic, flags, mtime + size or hash (Python >= 3.7).
    Pep552,
    /// magic, mtime, size (Python 3.3 to 3.6).
    MtimeSize,
    /// magic, mtime (Python 2 and 3.0 to 3.2).
    Mtime,
}

/// The header format, from the cache tag where it names a version (`cpython-311`, `pypy39`),
/// else from the magic number (CPython's numbering: 3230 is 3.3, 3390 is 3.7).
fn format(scheme: Scheme, tag: &[u8], magic: [u8; 4]) -> Format {
    let version = |digits: &[u8]| -> Option<(u32, u32)> {
        let digits: Vec<u8> = digits.iter().copied().take_while(u8::is_ascii_digit).collect();
        let (major, minor) = digits.split_first()?;
        let minor = std::str::from_utf8(minor).ok()?.parse().ok()?;
        Some((u32::from(major - b'0'), minor))
    };
    let by_tag = if scheme == Scheme::Legacy {
        None
    } else if let Some(rest) = tag.strip_prefix(b"cpython-") {
        version(rest)
    } else if let Some(rest) = tag.strip_prefix(b"pypy") {
        // PyPy 3 follows the header of the CPython version it implements; `pypy3` alone is 3.2.
        version(rest).or(Some((3, 2)))
    } else {
        None
    };
    match by_tag {
        Some((3, minor)) if minor >= 7 => Format::Pep552,
        Some((3, minor)) if minor >= 3 => Format::MtimeSize,
        Some(_) => Format::Mtime,
        None => match u16::from_le_bytes([magic[0], magic[1]]) {
            3390..=9999 => Format::Pep552,
            3230..=3389 => Format::MtimeSize,
            _ => Format::Mtime,
        },
    }
}

/// Parses the header at the start of a cache.
pub fn parse_header(scheme: Scheme, tag: &[u8], bytes: &[u8]) -> Result<Header, HeaderProblem> {
    let word =
        |at: usize| -> Option<u32> { bytes.get(at..at + 4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])) };
    let too_short = || HeaderProblem::TooShort(bytes.len());
    let magic: [u8; 4] = bytes.get(..4).ok_or_else(too_short)?.try_into().map_err(|_| too_short())?;
    if magic[2..] != *b"\r\n" {
        return Err(HeaderProblem::BadMagic);
    }
    let validation = match format(scheme, tag, magic) {
        Format::Mtime => Validation::Timestamp { mtime: word(4).ok_or_else(too_short)?, size: None },
        Format::MtimeSize => {
            Validation::Timestamp { mtime: word(4).ok_or_else(too_short)?, size: Some(word(8).ok_or_else(too_short)?) }
        }
        Format::Pep552 => {
            let flags = word(4).ok_or_else(too_short)?;
            match flags {
                0 => Validation::Timestamp {
                    mtime: word(8).ok_or_else(too_short)?,
                    size: Some(word(12).ok_or_else(too_short)?),
                },
                1 | 3 => Validation::Hash {
                    hash: bytes.get(8..16).ok_or_else(too_short)?.try_into().map_err(|_| too_short())?,
                    checked: flags == 3,
                },
                other => return Err(HeaderProblem::UnknownFlags(other)),
            }
        }
    };
    Ok(Header { magic, validation })
}

/// Whether `hash` is the source hash of `source` for an interpreter with this magic number.
pub fn source_hash_matches(magic: [u8; 4], source: &[u8], hash: [u8; 8]) -> bool {
    let mut hasher = SourceHasher::new(magic);
    hasher.update(source);
    hasher.matches(hash)
}

/// The source hash of one magic number, computed as the source streams by.
///
/// importlib computes `_imp.source_hash(_RAW_MAGIC_NUMBER, source)`: SipHash keyed with the
/// magic number read as a little-endian integer (k0) and zero (k1), the 64-bit result stored
/// little-endian. CPython uses SipHash-1-3 for it since 3.11 and SipHash-2-4 before (PyPy
/// follows the CPython version it implements); a hash that matches neither matches no
/// interpreter's, so both are accepted.
#[derive(Clone, Debug)]
pub struct SourceHasher {
    variants: [SipHasher; 2],
}

impl SourceHasher {
    pub fn new(magic: [u8; 4]) -> SourceHasher {
        let key = u64::from(u32::from_le_bytes(magic));
        SourceHasher { variants: [SipHasher::new(1, 3, key, 0), SipHasher::new(2, 4, key, 0)] }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        for variant in &mut self.variants {
            variant.write(chunk);
        }
    }

    pub fn matches(&self, hash: [u8; 8]) -> bool {
        self.variants.iter().any(|v| v.finish().to_le_bytes() == hash)
    }
}

/// SipHash-c-d of `data` with the key (k0, k1).
pub fn siphash(c_rounds: usize, d_rounds: usize, k0: u64, k1: u64, data: &[u8]) -> u64 {
    let mut hasher = SipHasher::new(c_rounds, d_rounds, k0, k1);
    hasher.write(data);
    hasher.finish()
}

/// SipHash-c-d (Aumasson and Bernstein), fed in pieces of any length.
#[derive(Clone, Debug)]
pub struct SipHasher {
    c_rounds: usize,
    d_rounds: usize,
    v: [u64; 4],
    /// The bytes of the block not yet complete.
    pending: [u8; 8],
    pending_len: usize,
    /// Bytes written so far; the last block carries it modulo 256.
    length: u64,
}

impl SipHasher {
    pub fn new(c_rounds: usize, d_rounds: usize, k0: u64, k1: u64) -> SipHasher {
        let v = [
            k0 ^ 0x736f_6d65_7073_6575,
            k1 ^ 0x646f_7261_6e64_6f6d,
            k0 ^ 0x6c79_6765_6e65_7261,
            k1 ^ 0x7465_6462_7974_6573,
        ];
        SipHasher { c_rounds, d_rounds, v, pending: [0; 8], pending_len: 0, length: 0 }
    }

    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }

    fn compress(&mut self, m: u64) {
        self.v[3] ^= m;
        for _ in 0..self.c_rounds {
            Self::round(&mut self.v);
        }
        self.v[0] ^= m;
    }

    pub fn write(&mut self, mut data: &[u8]) {
        self.length = self.length.wrapping_add(data.len() as u64);
        if self.pending_len > 0 {
            let take = (8 - self.pending_len).min(data.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&data[..take]);
            self.pending_len += take;
            data = &data[take..];
            if self.pending_len < 8 {
                return;
            }
            self.compress(u64::from_le_bytes(self.pending));
            self.pending_len = 0;
        }
        let mut blocks = data.chunks_exact(8);
        for block in &mut blocks {
            self.compress(u64::from_le_bytes(block.try_into().expect("chunks_exact(8) gives 8 bytes")));
        }
        let tail = blocks.remainder();
        self.pending[..tail.len()].copy_from_slice(tail);
        self.pending_len = tail.len();
    }

    pub fn finish(&self) -> u64 {
        let mut hasher = self.clone();
        let mut last = [0u8; 8];
        last[..hasher.pending_len].copy_from_slice(&hasher.pending[..hasher.pending_len]);
        last[7] = hasher.length as u8;
        hasher.compress(u64::from_le_bytes(last));
        hasher.v[2] ^= 0xff;
        for _ in 0..hasher.d_rounds {
            Self::round(&mut hasher.v);
        }
        hasher.v[0] ^ hasher.v[1] ^ hasher.v[2] ^ hasher.v[3]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siphash_2_4_matches_the_reference_vector() {
        // The paper's test vector: key 00..0f, message 00..0e.
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let message: Vec<u8> = (0..15).collect();
        assert_eq!(siphash(2, 4, k0, k1, &message), 0xa129ca6149be45e5);
    }

    #[test]
    fn siphash_fed_in_pieces_is_siphash_of_the_whole() {
        let message: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let whole = siphash(1, 3, 7, 9, &message);
        for piece in [1, 3, 7, 8, 9, 64, 999] {
            let mut hasher = SipHasher::new(1, 3, 7, 9);
            message.chunks(piece).for_each(|chunk| hasher.write(chunk));
            assert_eq!(hasher.finish(), whole, "pieces of {piece}");
        }
    }

    #[test]
    fn source_hashes_of_real_interpreters_are_recognised() {
        // `_imp.source_hash(int.from_bytes(MAGIC_NUMBER, 'little'), b'abc').hex()` as printed
        // by CPython 3.11 and PyPy 3.9 (7.3.11).
        let cases: [([u8; 4], &str); 2] =
            [([0xa7, 0x0d, 0x0d, 0x0a], "c7af82e77c1da4f5"), ([0x50, 0x01, 0x0d, 0x0a], "dd712762c75b1541")];
        for (magic, hex) in cases {
            let hash: Vec<u8> = (0..8).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
            let hash: [u8; 8] = hash.try_into().unwrap();
            assert!(source_hash_matches(magic, b"abc", hash), "{hex}");
            assert!(!source_hash_matches(magic, b"abd", hash));
        }
    }

    #[test]
    fn header_formats_follow_tag_and_magic() {
        let mut pep552 = vec![0xa7, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0];
        pep552.extend_from_slice(&7u32.to_le_bytes());
        pep552.extend_from_slice(&9u32.to_le_bytes());
        let header = parse_header(Scheme::Pep3147, b"cpython-311", &pep552).unwrap();
        assert_eq!(header.validation, Validation::Timestamp { mtime: 7, size: Some(9) });
        pep552[4] = 3;
        assert!(matches!(
            parse_header(Scheme::Pep3147, b"cpython-311", &pep552).unwrap().validation,
            Validation::Hash { checked: true, .. }
        ));
        pep552[4] = 4;
        assert_eq!(parse_header(Scheme::Pep3147, b"cpython-311", &pep552), Err(HeaderProblem::UnknownFlags(4)));
        // Python 2.7: magic 62211, then the mtime only.
        let py27 = [0x03, 0xf3, 0x0d, 0x0a, 5, 0, 0, 0];
        assert_eq!(
            parse_header(Scheme::Legacy, b"", &py27).unwrap().validation,
            Validation::Timestamp { mtime: 5, size: None }
        );
        pep552[4] = 0;
        assert_eq!(parse_header(Scheme::Pep3147, b"cpython-311", &pep552[..10]), Err(HeaderProblem::TooShort(10)));
        assert_eq!(
            parse_header(Scheme::Pep3147, b"cpython-311", b"\x7fELF\x02\x01\x01\0"),
            Err(HeaderProblem::BadMagic)
        );
    }
}
