//! `Scratch`: where validation puts what it must keep for later without
//! holding it in memory: the keys that rows use, for the uniqueness rules
//! that can only be decided once every row is read, and the errors found on
//! the way, until the last of them is known.
//!
//! The crate does no IO of its own: the caller gives it a `Scratch`
//! ([`MemoryScratch`] for small inputs and tests; a folder of temporary
//! files for files of any size, which `roster-jobs` provides). A scratch is
//! a set of numbered areas, each written to the end and read back whole, in
//! the order written.

use std::io::{self, Read};

/// Append-only areas of bytes, each read back in order.
pub trait Scratch {
    /// Adds `bytes` at the end of area `area`.
    fn append(&mut self, area: usize, bytes: &[u8]) -> io::Result<()>;
    /// Everything written to area `area`, from its start. What is appended
    /// after this call need not be part of it. Several areas may be read at
    /// once.
    fn read(&mut self, area: usize) -> io::Result<Box<dyn Read + Send>>;
    /// Forgets area `area`.
    fn clear(&mut self, area: usize) -> io::Result<()>;
}

/// A scratch in memory: what a file of some thousands of rows needs.
#[derive(Debug, Default)]
pub struct MemoryScratch {
    areas: Vec<Vec<u8>>,
}

impl Scratch for MemoryScratch {
    fn append(&mut self, area: usize, bytes: &[u8]) -> io::Result<()> {
        if self.areas.len() <= area {
            self.areas.resize_with(area + 1, Vec::new);
        }
        self.areas[area].extend_from_slice(bytes);
        Ok(())
    }

    fn read(&mut self, area: usize) -> io::Result<Box<dyn Read + Send>> {
        let bytes = self.areas.get(area).cloned().unwrap_or_default();
        Ok(Box::new(io::Cursor::new(bytes)))
    }

    fn clear(&mut self, area: usize) -> io::Result<()> {
        if let Some(bytes) = self.areas.get_mut(area) {
            *bytes = Vec::new();
        }
        Ok(())
    }
}

/// Values written to an area and read back: a fixed byte layout each.
pub(crate) trait Spilled: Sized {
    fn write(&self, out: &mut Vec<u8>);
    /// The next value of `input`; `None` at its end.
    fn read(input: &mut dyn Read) -> io::Result<Option<Self>>;
}

/// A run of values kept in memory up to a budget of bytes, the rest spilled
/// to an area of a scratch.
pub(crate) struct SpillBuffer {
    area: usize,
    bytes: Vec<u8>,
    budget: usize,
    spilled: bool,
}

impl SpillBuffer {
    pub(crate) fn new(area: usize, budget: usize) -> SpillBuffer {
        SpillBuffer {
            area,
            bytes: Vec::new(),
            budget,
            spilled: false,
        }
    }

    pub(crate) fn push<T: Spilled>(
        &mut self,
        value: &T,
        scratch: &mut dyn Scratch,
    ) -> io::Result<()> {
        value.write(&mut self.bytes);
        if self.bytes.len() >= self.budget {
            self.flush(scratch)?;
        }
        Ok(())
    }

    /// Writes what is in memory to the scratch.
    pub(crate) fn flush(&mut self, scratch: &mut dyn Scratch) -> io::Result<()> {
        if !self.bytes.is_empty() {
            scratch.append(self.area, &self.bytes)?;
            self.bytes.clear();
            self.spilled = true;
        }
        Ok(())
    }

    /// Everything pushed, in order: the scratch's part, then memory's.
    pub(crate) fn drain(&mut self, scratch: &mut dyn Scratch) -> io::Result<Box<dyn Read + Send>> {
        let in_memory = io::Cursor::new(std::mem::take(&mut self.bytes));
        if !self.spilled {
            return Ok(Box::new(in_memory));
        }
        let stored = scratch.read(self.area)?;
        Ok(Box::new(io::BufReader::new(stored).chain(in_memory)))
    }
}

/// Reads exactly `N` bytes, or `None` at a clean end of `input`.
pub(crate) fn read_array<const N: usize>(input: &mut dyn Read) -> io::Result<Option<[u8; N]>> {
    let mut buf = [0u8; N];
    let mut filled = 0;
    while filled < N {
        match input.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct N(u32);

    impl Spilled for N {
        fn write(&self, out: &mut Vec<u8>) {
            out.extend_from_slice(&self.0.to_le_bytes());
        }
        fn read(input: &mut dyn Read) -> io::Result<Option<N>> {
            Ok(read_array::<4>(input)?.map(|b| N(u32::from_le_bytes(b))))
        }
    }

    #[test]
    fn a_buffer_gives_back_what_it_spilled_and_what_it_kept_in_order() {
        let mut scratch = MemoryScratch::default();
        let mut buffer = SpillBuffer::new(3, 10);
        for n in 0..7 {
            buffer.push(&N(n), &mut scratch).expect("pushed");
        }
        // 7 values of 4 bytes: 28 bytes, two spills of 12 and 4 kept.
        assert_eq!(scratch.areas[3].len(), 24);
        let mut read = buffer.drain(&mut scratch).expect("drained");
        let mut back = Vec::new();
        while let Some(N(n)) = N::read(&mut read).expect("read") {
            back.push(n);
        }
        assert_eq!(back, [0, 1, 2, 3, 4, 5, 6]);
    }
}
