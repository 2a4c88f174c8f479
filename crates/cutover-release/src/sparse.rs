//! Sparse files in the upload: a file with holes travels as a GNU sparse member (type `S`: its
//! map of data regions, then those regions only), which GNU tar (and bsdtar) unpack with the
//! holes as holes. Sent as a plain member, 100 MB of holes would travel as zeros and be written
//! out in full on every host.
//!
//! What travels is still what was hashed: the holes count as zeros in the hash, as they read.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, MetadataExt};

use rustix::fs::SeekFrom;

/// The old GNU format's sizes and offsets are 11 octal digits: files up to 8 GiB.
const MAX_SIZE: u64 = 0o777_7777_7777;
/// Map entries in the member's header, and in each extension block after it.
const IN_HEADER: usize = 4;
const PER_BLOCK: usize = 21;

/// The data regions (offset, length) of the first `size` bytes of `file`, when it has holes
/// worth keeping; `None` for a file to send as it is.
pub(crate) fn data_map(file: &File, size: u64) -> io::Result<Option<Vec<(u64, u64)>>> {
    let meta = file.metadata()?;
    // Fewer blocks than bytes: the one cheap sign of a hole. Most files stop here.
    if size == 0 || size > MAX_SIZE || meta.blocks().saturating_mul(512) >= meta.len() {
        return Ok(None);
    }
    let mut map = Vec::new();
    let mut pos = 0;
    while pos < size {
        let start = match rustix::fs::seek(file, SeekFrom::Data(pos)) {
            Ok(start) => start,
            // No data after `pos`: the rest is a hole.
            Err(rustix::io::Errno::NXIO) => break,
            // A filesystem that cannot say: send the file as it is.
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::OPNOTSUPP) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if start >= size {
            break;
        }
        let end = rustix::fs::seek(file, SeekFrom::Hole(start))?.min(size);
        if end <= start {
            return Ok(None);
        }
        map.push((start, end - start));
        pos = end;
    }
    Ok((map != [(0, size)]).then_some(map))
}

/// The member's header fields for `map` (see [`data_map`]) of a file of `size` bytes, and the
/// extension blocks that follow it when the map has more than four regions.
pub(crate) fn header(header: &mut tar::Header, map: &[(u64, u64)], size: u64) -> Vec<u8> {
    // A file ending in a hole ends its map with an empty region at its size, so tar makes it
    // that long.
    let mut entries = map.to_vec();
    if map.last().is_none_or(|&(offset, len)| offset + len < size) {
        entries.push((size, 0));
    }
    header.set_entry_type(tar::EntryType::GNUSparse);
    header.set_size(map.iter().map(|&(_, len)| len).sum());
    let gnu = header.as_gnu_mut().expect("a GNU header");
    for (slot, &(offset, len)) in gnu.sparse.iter_mut().zip(&entries) {
        slot.offset = octal(offset);
        slot.numbytes = octal(len);
    }
    gnu.isextended = [u8::from(entries.len() > IN_HEADER)];
    gnu.realsize = octal(size);
    let rest: Vec<&[(u64, u64)]> = entries.get(IN_HEADER..).unwrap_or_default().chunks(PER_BLOCK).collect();
    let mut blocks = vec![0u8; 512 * rest.len()];
    for (i, (chunk, block)) in rest.iter().zip(blocks.chunks_mut(512)).enumerate() {
        for (j, &(offset, len)) in chunk.iter().enumerate() {
            block[j * 24..j * 24 + 12].copy_from_slice(&octal(offset));
            block[j * 24 + 12..j * 24 + 24].copy_from_slice(&octal(len));
        }
        block[PER_BLOCK * 24] = u8::from(i + 1 < rest.len());
    }
    blocks
}

fn octal(n: u64) -> [u8; 12] {
    let mut field = [0u8; 12];
    field[..11].copy_from_slice(format!("{n:011o}").as_bytes());
    field
}

/// The member's body: the extension blocks, then the data regions read from the file, hashing
/// the whole file (holes as zeros) on the way.
pub(crate) struct SparseBody<'a> {
    file: &'a File,
    ext: Vec<u8>,
    ext_sent: usize,
    map: Vec<(u64, u64)>,
    region: usize,
    sent_in_region: u64,
    /// Bytes of the file hashed so far, from its start.
    hashed: u64,
    hasher: blake3::Hasher,
}

impl<'a> SparseBody<'a> {
    pub(crate) fn new(file: &'a File, ext: Vec<u8>, map: Vec<(u64, u64)>) -> Self {
        Self { file, ext, ext_sent: 0, map, region: 0, sent_in_region: 0, hashed: 0, hasher: blake3::Hasher::new() }
    }

    fn hash_zeros_to(&mut self, to: u64) {
        static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
        while self.hashed < to {
            let n = (to - self.hashed).min(ZEROS.len() as u64);
            self.hasher.update(&ZEROS[..n as usize]);
            self.hashed += n;
        }
    }

    /// The whole file's hash, once every region was read; `Err` when the file grew past `size`.
    pub(crate) fn finish(mut self, size: u64) -> io::Result<blake3::Hash> {
        self.hash_zeros_to(size);
        if self.file.read_at(&mut [0u8; 1], size)? > 0 {
            return Err(io::Error::other("the file grew"));
        }
        Ok(self.hasher.finalize())
    }
}

impl Read for SparseBody<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ext_sent < self.ext.len() {
            let n = buf.len().min(self.ext.len() - self.ext_sent);
            buf[..n].copy_from_slice(&self.ext[self.ext_sent..self.ext_sent + n]);
            self.ext_sent += n;
            return Ok(n);
        }
        while let Some(&(offset, len)) = self.map.get(self.region) {
            if self.sent_in_region == len {
                self.region += 1;
                self.sent_in_region = 0;
                continue;
            }
            self.hash_zeros_to(offset);
            let want = buf.len().min(usize::try_from(len - self.sent_in_region).unwrap_or(usize::MAX));
            let n = self.file.read_at(&mut buf[..want], offset + self.sent_in_region)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was being uploaded",
                ));
            }
            self.hasher.update(&buf[..n]);
            self.hashed += n as u64;
            self.sent_in_region += n as u64;
            return Ok(n);
        }
        Ok(0)
    }
}
