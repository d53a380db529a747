//! `StoredFile`: an import's file read back from the database, block by
//! block, as a `std::io::Read` for the synchronous row reader.

use std::io::{self, Read};

use tokio::io::{AsyncRead, AsyncReadExt};

use super::id::ImportKey;
use crate::convert::to_db;
use crate::db::query;
use crate::{Error, Store};

/// How big a block of a stored file is.
pub(crate) const BLOCK_BYTES: usize = 1 << 20;

/// An import's file, read one stored block at a time.
///
/// Blocks on the async store through `runtime`: use it from a blocking
/// thread (`tokio::task::spawn_blocking`), never from async code.
pub struct StoredFile {
    store: Store,
    import: ImportKey,
    runtime: tokio::runtime::Handle,
    next_seq: i64,
    block: Vec<u8>,
    pos: usize,
    /// Bytes to pass over in the first block read.
    skip: usize,
}

impl Store {
    /// The stored file of an import.
    pub fn stored_file(&self, import: ImportKey, runtime: tokio::runtime::Handle) -> StoredFile {
        self.stored_file_from(import, runtime, 0)
    }

    /// The stored file of an import from byte `offset` on: the blocks
    /// before it are not read.
    pub fn stored_file_from(
        &self,
        import: ImportKey,
        runtime: tokio::runtime::Handle,
        offset: u64,
    ) -> StoredFile {
        let block = BLOCK_BYTES as u64;
        StoredFile {
            store: self.clone(),
            import,
            runtime,
            next_seq: to_db(offset / block),
            block: Vec::new(),
            pos: 0,
            skip: (offset % block) as usize,
        }
    }

    async fn file_block(&self, import: ImportKey, seq: i64) -> Result<Option<Vec<u8>>, Error> {
        const SQL: &str = "SELECT bytes FROM import_file_blocks WHERE import_id = $1 AND seq = $2";
        let block: Option<(Vec<u8>,)> = query(SQL)
            .bind(import.0)
            .bind(seq)
            .fetch_optional(&self.db)
            .await
            .map_err(|source| Error::Query {
                what: "reading the stored file",
                source,
            })?;
        Ok(block.map(|(bytes,)| bytes))
    }
}

impl Read for StoredFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.block.len() {
            let next = self
                .runtime
                .block_on(self.store.file_block(self.import, self.next_seq))
                .map_err(io::Error::other)?;
            match next {
                Some(block) => {
                    self.block = block;
                    self.pos = std::mem::take(&mut self.skip).min(self.block.len());
                    self.next_seq += 1;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.block.len() - self.pos);
        buf[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Reads up to one block from `file`, as it is stored; empty at the end.
pub(crate) async fn read_block(
    file: &mut (dyn AsyncRead + Unpin + Send),
) -> std::io::Result<Vec<u8>> {
    let mut block = Vec::with_capacity(BLOCK_BYTES);
    file.take(BLOCK_BYTES as u64)
        .read_to_end(&mut block)
        .await?;
    Ok(block)
}
