//! A byte reader over the dump with a fixed buffer, look-ahead and line counting: the dump is
//! never held in memory, only the value being rewritten.

use std::io::{self, Read};

const BUF: usize = 1 << 20;

pub struct Input<R> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    /// Newlines before `buf[0]`, and in `buf[..counted]`: lines are counted only when asked for
    /// or when the buffer moves, a few large counts instead of one per step.
    lines_before: u64,
    counted: usize,
    lines_counted: u64,
    pub consumed: u64,
}

impl<R: Read> Input<R> {
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            buf: vec![0; BUF],
            pos: 0,
            end: 0,
            eof: false,
            lines_before: 0,
            counted: 0,
            lines_counted: 0,
            consumed: 0,
        }
    }

    /// Makes at least `n` bytes available unless the input ends first.
    fn want(&mut self, n: usize) -> io::Result<()> {
        // Never more than the buffer holds: reading into an empty slice would look like the end.
        let n = n.min(self.buf.len());
        while self.end - self.pos < n && !self.eof {
            if self.pos > 0 {
                self.line();
                self.lines_before += self.lines_counted;
                self.lines_counted = 0;
                self.counted = 0;
                self.buf.copy_within(self.pos..self.end, 0);
                self.end -= self.pos;
                self.pos = 0;
            }
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    #[inline]
    pub fn peek(&mut self) -> io::Result<Option<u8>> {
        self.peek_at(0)
    }

    #[inline]
    pub fn peek_at(&mut self, k: usize) -> io::Result<Option<u8>> {
        if self.pos + k < self.end {
            return Ok(Some(self.buf[self.pos + k]));
        }
        self.want(k + 1)?;
        Ok(self.buf.get(self.pos + k).copied().filter(|_| self.pos + k < self.end))
    }

    /// The first bytes of the input (up to `n`), without consuming them.
    pub fn head(&mut self, n: usize) -> io::Result<&[u8]> {
        self.want(n.min(BUF))?;
        Ok(&self.buf[self.pos..self.end.min(self.pos + n)])
    }

    /// 1-based line of the next byte.
    pub fn line(&mut self) -> u64 {
        if self.counted < self.pos {
            self.lines_counted += memchr::memchr_iter(b'\n', &self.buf[self.counted..self.pos]).count() as u64;
            self.counted = self.pos;
        }
        self.lines_before + self.lines_counted + 1
    }

    /// Consumes one byte that `peek` returned.
    pub fn bump(&mut self) -> u8 {
        let b = self.buf[self.pos];
        self.pos += 1;
        self.consumed += 1;
        b
    }

    /// The bytes available now without reading (at least one unless at the end).
    pub fn chunk(&mut self) -> io::Result<&[u8]> {
        self.want(1)?;
        Ok(&self.buf[self.pos..self.end])
    }

    /// Consumes `n` bytes of the current chunk.
    pub fn advance(&mut self, n: usize) {
        self.pos += n;
        self.consumed += n as u64;
    }
}
