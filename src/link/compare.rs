//! Compare: byte-for-byte equality of two files in bounded memory.
//!
//! Caches are small, but a generated module can make a cache of several MiB; reading both
//! files in fixed chunks keeps the peak memory of a parallel run independent of file sizes.

use std::cell::RefCell;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::Path;

use std::os::fd::BorrowedFd;

use rustix::fs::{Mode, OFlags};

use crate::error::Error;
use crate::link::group::InspectedCache;

const CHUNK: usize = 64 * 1024;

/// Whether the two files hold the same bytes. Sizes are expected to be equal already; a length
/// difference found while reading (the file changed) gives `false`.
pub fn same_bytes(a: &Path, b: &Path) -> Result<bool, Error> {
    let mut fa = File::open(a).map_err(|e| Error::io(a, e))?;
    let mut fb = File::open(b).map_err(|e| Error::io(b, e))?;
    BUFFERS.with(|buffers| {
        let (ba, bb) = &mut *buffers.borrow_mut();
        compare_open(a, &mut fa, ba, b, &mut fb, bb)
    })
}

type BufferPair = (Box<[u8]>, Box<[u8]>);

thread_local! {
    /// One pair of buffers per thread: zeroing fresh ones for each of 100,000 comparisons
    /// would cost more than reading the files.
    static BUFFERS: RefCell<BufferPair> =
        RefCell::new((vec![0; CHUNK].into_boxed_slice(), vec![0; CHUNK].into_boxed_slice()));
}

fn compare_open(a: &Path, fa: &mut File, ba: &mut [u8], b: &Path, fb: &mut File, bb: &mut [u8]) -> Result<bool, Error> {
    loop {
        let na = read_full(fa, ba).map_err(|e| Error::io(a, e))?;
        let nb = read_full(fb, bb).map_err(|e| Error::io(b, e))?;
        if na != nb || ba[..na] != bb[..nb] {
            return Ok(false);
        }
        if na < CHUNK {
            return Ok(true);
        }
    }
}

/// [`same_bytes`] for two caches of the directory open as `dir`: each file is opened by name
/// relative to it (O_NOFOLLOW), which spares resolving the whole path twice per comparison.
pub fn same_bytes_at(dir: BorrowedFd<'_>, a: &InspectedCache, b: &InspectedCache) -> Result<bool, Error> {
    let open = |cache: &InspectedCache| {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        rustix::fs::openat(dir, &cache.name, flags, Mode::empty())
            .map(File::from)
            .map_err(|e| Error::io(&cache.path, e.into()))
    };
    let (mut fa, mut fb) = (open(a)?, open(b)?);
    BUFFERS.with(|buffers| {
        let (ba, bb) = &mut *buffers.borrow_mut();
        compare_open(&a.path, &mut fa, ba, &b.path, &mut fb, bb)
    })
}

/// Reads until the buffer is full or the file ends.
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_across_chunk_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let mut data = vec![7u8; CHUNK * 2 + 5];
        std::fs::write(&a, &data).unwrap();
        std::fs::write(&b, &data).unwrap();
        assert!(same_bytes(&a, &b).unwrap());
        *data.last_mut().unwrap() = 8;
        std::fs::write(&b, &data).unwrap();
        assert!(!same_bytes(&a, &b).unwrap());
        std::fs::write(&b, &data[..CHUNK]).unwrap();
        assert!(!same_bytes(&a, &b).unwrap());
        assert!(matches!(same_bytes(&a, &dir.path().join("missing")), Err(Error::Io { .. })));
    }
}
