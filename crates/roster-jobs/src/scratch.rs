//! `FileScratch`: validation's scratch ([`roster_validate::Scratch`]) in
//! temporary files, one per area, in a folder that is removed with it. What
//! a file of millions of rows needs kept until its last row is read goes to
//! disk, not to memory.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use roster_validate::Scratch;

/// A scratch of temporary files.
pub struct FileScratch {
    dir: tempfile::TempDir,
    writers: HashMap<usize, BufWriter<File>>,
}

impl FileScratch {
    /// A scratch in a new folder under the system's temporary folder.
    pub fn new() -> io::Result<FileScratch> {
        Ok(FileScratch {
            dir: tempfile::Builder::new()
                .prefix("roster-scratch-")
                .tempdir()?,
            writers: HashMap::new(),
        })
    }

    fn path(&self, area: usize) -> PathBuf {
        self.dir.path().join(format!("area-{area}"))
    }
}

impl Scratch for FileScratch {
    fn append(&mut self, area: usize, bytes: &[u8]) -> io::Result<()> {
        let writer = match self.writers.entry(area) {
            std::collections::hash_map::Entry::Occupied(writer) => writer.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                let file = File::options()
                    .create(true)
                    .append(true)
                    .open(self.dir.path().join(format!("area-{area}")))?;
                slot.insert(BufWriter::with_capacity(256 * 1024, file))
            }
        };
        writer.write_all(bytes)
    }

    fn read(&mut self, area: usize) -> io::Result<Box<dyn Read + Send>> {
        match self.writers.get_mut(&area) {
            Some(writer) => writer.flush()?,
            None => return Ok(Box::new(io::empty())),
        }
        Ok(Box::new(BufReader::with_capacity(
            256 * 1024,
            File::open(self.path(area))?,
        )))
    }

    fn clear(&mut self, area: usize) -> io::Result<()> {
        if self.writers.remove(&area).is_some() {
            std::fs::remove_file(self.path(area))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_are_read_back_in_order_and_cleared() {
        let mut scratch = FileScratch::new().expect("a scratch");
        scratch.append(2, b"ab").expect("written");
        scratch.append(5, b"x").expect("written");
        scratch.append(2, b"cd").expect("written");
        let mut two = String::new();
        scratch
            .read(2)
            .expect("read")
            .read_to_string(&mut two)
            .expect("read");
        assert_eq!(two, "abcd");
        scratch.clear(2).expect("cleared");
        let mut empty = String::new();
        scratch
            .read(2)
            .expect("read")
            .read_to_string(&mut empty)
            .expect("read");
        assert_eq!(empty, "");
        let dir = scratch.dir.path().to_path_buf();
        drop(scratch);
        assert!(!dir.exists(), "the folder goes with the scratch");
    }
}
