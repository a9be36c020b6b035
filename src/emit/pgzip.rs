//! A gzip writer that compresses in parallel and still gives the same bytes for the same
//! input, whatever the thread count: the input is cut into fixed-size chunks, each chunk is
//! deflated on its own (no window shared across chunks, as `pigz --independent` does) and
//! ended with a sync flush, and the chunks' outputs are concatenated in order into one
//! deflate stream, closed by an empty final block. One gzip member; header without name or
//! time (mtime 0, OS 255), trailer with the CRC-32 and size of the whole input.

use std::io::{self, Write};

use flate2::Crc;
use rayon::prelude::*;

/// Input bytes per independently compressed chunk. Part of the output format: changing it
/// changes the bytes.
const CHUNK: usize = 256 << 10;
/// Chunks compressed per parallel batch (memory bound only; the output does not depend on it).
const BATCH: usize = 16;

/// The parallel gzip writer. Call [`finish`](ParGz::finish) at the end.
pub(super) struct ParGz<W: Write> {
    out: W,
    level: u32,
    buf: Vec<u8>,
    pending: Vec<Vec<u8>>,
    crc: Crc,
    header: bool,
}

impl<W: Write> ParGz<W> {
    pub(super) fn new(out: W, level: u32) -> ParGz<W> {
        ParGz {
            out,
            level: level.min(9),
            buf: Vec::with_capacity(CHUNK),
            pending: Vec::new(),
            crc: Crc::new(),
            header: false,
        }
    }

    fn write_header(&mut self) -> io::Result<()> {
        if !self.header {
            let xfl = match self.level {
                9 => 2,
                1 => 4,
                _ => 0,
            };
            self.out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255])?;
            self.header = true;
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> io::Result<()> {
        self.write_header()?;
        let level = self.level;
        let outputs: Vec<io::Result<Vec<u8>>> = self.pending.par_iter().map(|c| deflate_chunk(c, level)).collect();
        for (chunk, z) in self.pending.iter().zip(outputs) {
            self.crc.update(chunk);
            self.out.write_all(&z?)?;
        }
        self.pending.clear();
        Ok(())
    }

    /// Compress what is left, write the final block and the trailer; the inner writer back.
    pub(super) fn finish(mut self) -> io::Result<W> {
        if !self.buf.is_empty() {
            let last = std::mem::take(&mut self.buf);
            self.pending.push(last);
        }
        self.flush_batch()?;
        // An empty final block with fixed Huffman codes: BFINAL=1, BTYPE=01, end-of-block.
        self.out.write_all(&[0x03, 0x00])?;
        self.out.write_all(&self.crc.sum().to_le_bytes())?;
        self.out.write_all(&self.crc.amount().to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for ParGz<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = (CHUNK - self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
            self.pending.push(full);
            if self.pending.len() == BATCH {
                self.flush_batch()?;
            }
        }
        Ok(n)
    }

    /// Nothing is forced out before [`finish`](ParGz::finish): a flush would change the
    /// chunking, and so the bytes.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One chunk as raw deflate blocks ending with a sync flush (byte-aligned, not final),
/// compressed by zlib-rs.
fn deflate_chunk(data: &[u8], level: u32) -> io::Result<Vec<u8>> {
    let mut c = zlib_rs::Deflate::new(level as i32, false, 15);
    // Room for the worst case of the whole chunk and the sync flush's empty block.
    let mut out = vec![0u8; zlib_rs::compress_bound(data.len()) + 64];
    loop {
        let (done, written) = (c.total_in() as usize, c.total_out() as usize);
        let status = c
            .compress(&data[done..], &mut out[written..], zlib_rs::DeflateFlush::SyncFlush)
            .map_err(|e| io::Error::other(e.as_str()))?;
        // Finished once all input is in and the flush left room in the output.
        let (done, written) = (c.total_in() as usize, c.total_out() as usize);
        if done == data.len() && written < out.len() && status != zlib_rs::Status::BufError {
            out.truncate(written);
            return Ok(out);
        }
        let grow = out.len().max(4096);
        out.resize(out.len() + grow, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gz(data: &[u8], level: u32, pieces: usize) -> Vec<u8> {
        let mut w = ParGz::new(Vec::new(), level);
        for part in data.chunks(pieces.max(1)) {
            w.write_all(part).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn round_trips_through_a_standard_decoder_and_is_stable() {
        let mut data = Vec::new();
        for i in 0..(3 * CHUNK + 12345) {
            data.push(((i * 7919) % 251) as u8 ^ if i % 3 == 0 { 0 } else { (i >> 9) as u8 });
        }
        for input in [&b""[..], b"x", &data[..CHUNK], &data[..]] {
            for level in [0, 1, 6, 9] {
                let a = gz(input, level, 1000);
                let b = gz(input, level, 70_000);
                assert_eq!(a, b, "how it is written must not matter");
                let mut back = Vec::new();
                flate2::read::GzDecoder::new(&a[..]).read_to_end(&mut back).unwrap();
                assert_eq!(back, input);
                // `gzip -t` agrees: one member, right CRC and size.
                let mut multi = Vec::new();
                flate2::read::MultiGzDecoder::new(&a[..]).read_to_end(&mut multi).unwrap();
                assert_eq!(multi, input);
            }
        }
        // The thread count does not matter either.
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| gz(&data, 6, 4096));
        let four = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap().install(|| gz(&data, 6, 4096));
        assert_eq!(one, four);
    }
}
