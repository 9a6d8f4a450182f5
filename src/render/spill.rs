//! Bytes set aside until a report can be written: in memory while they are few, then in an
//! unnamed temporary file, so that a report over a mirror's packages holds no row in memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Cursor, Seek, SeekFrom, Write};

/// What stays in memory before the bytes go to a temporary file: a report over a few hundred
/// packages never touches the disk.
const IN_MEMORY: usize = 1 << 20;

/// Where the bytes are.
#[derive(Default)]
pub struct Spill {
    memory: Vec<u8>,
    file: Option<BufWriter<File>>,
    /// The temporary file could not be made: everything stays in memory, as before there was
    /// a file (a run that cannot write to `$TMPDIR` still gets its report).
    memory_only: bool,
}

impl Spill {
    /// Whether the bytes went to a temporary file.
    pub fn on_disk(&self) -> bool {
        self.file.is_some()
    }

    /// Everything written, from the start.
    pub fn into_reader(self) -> io::Result<Box<dyn BufRead>> {
        match self.file {
            None => Ok(Box::new(Cursor::new(self.memory))),
            Some(file) => {
                let mut file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
                file.seek(SeekFrom::Start(0))?;
                Ok(Box::new(BufReader::new(file)))
            }
        }
    }

    /// Everything written, to be read back at any offset ([`SpillRanges::read`]).
    pub fn into_ranges(self) -> io::Result<SpillRanges> {
        match self.file {
            None => Ok(SpillRanges::Memory(self.memory)),
            Some(file) => Ok(SpillRanges::File(file.into_inner().map_err(io::IntoInnerError::into_error)?)),
        }
    }

    fn move_to_file(&mut self) {
        // Unnamed (O_TMPFILE where the filesystem has it, else unlinked at once): it goes
        // with the process however that ends.
        match tempfile::tempfile() {
            Ok(file) => {
                let mut file = BufWriter::new(file);
                if file.write_all(&self.memory).is_ok() {
                    self.memory = Vec::new();
                    self.file = Some(file);
                    return;
                }
                self.memory_only = true;
            }
            Err(e) => {
                log::debug!(
                    "{}: no temporary file for the report's rows ({e}); keeping them in memory",
                    std::env::temp_dir().display()
                );
                self.memory_only = true;
            }
        }
    }
}

impl Write for Spill {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if let Some(file) = &mut self.file {
            return file.write(bytes);
        }
        self.memory.extend_from_slice(bytes);
        if self.memory.len() > IN_MEMORY && !self.memory_only {
            self.move_to_file();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// The bytes of a [`Spill`], read back by offset: a report whose parts are set aside in one
/// order and written in another.
pub enum SpillRanges {
    Memory(Vec<u8>),
    File(File),
}

impl SpillRanges {
    /// The `len` bytes written at offset `start`.
    pub fn read(&self, start: u64, len: usize) -> io::Result<Vec<u8>> {
        match self {
            SpillRanges::Memory(bytes) => {
                let start = usize::try_from(start).map_err(|_| io::ErrorKind::UnexpectedEof)?;
                let range = bytes.get(start..start.saturating_add(len)).ok_or(io::ErrorKind::UnexpectedEof)?;
                Ok(range.to_vec())
            }
            SpillRanges::File(file) => {
                let mut bytes = vec![0; len];
                std::os::unix::fs::FileExt::read_exact_at(file, &mut bytes, start)?;
                Ok(bytes)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn what_is_written_is_read_back_from_memory_or_from_the_file() {
        for (count, on_disk) in [(10, false), (IN_MEMORY, true)] {
            let mut spill = Spill::default();
            let lines: Vec<String> = (0..count).map(|i| format!("row {i}\n")).collect();
            for line in &lines {
                spill.write_all(line.as_bytes()).unwrap();
            }
            assert_eq!(spill.on_disk(), on_disk);
            let mut back = String::new();
            spill.into_reader().unwrap().read_to_string(&mut back).unwrap();
            assert_eq!(back, lines.concat());
        }
        for (count, on_disk) in [(10, false), (IN_MEMORY, true)] {
            let mut spill = Spill::default();
            let mut offsets = Vec::new();
            let mut at = 0u64;
            for i in 0..count {
                let line = format!("row {i}\n");
                spill.write_all(line.as_bytes()).unwrap();
                offsets.push((at, line));
                at += offsets.last().unwrap().1.len() as u64;
            }
            assert_eq!(spill.on_disk(), on_disk);
            let ranges = spill.into_ranges().unwrap();
            for (start, line) in offsets.iter().rev().step_by(997) {
                assert_eq!(ranges.read(*start, line.len()).unwrap(), line.as_bytes());
            }
            assert!(ranges.read(at, 1).is_err(), "past the end");
        }
    }
}
