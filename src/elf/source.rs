//! Random access to a file's bytes: the [`Source`] trait, and its impl for a byte slice.

use std::borrow::Cow;

/// Random access to a file's bytes, so that the parser reads only what it needs: the header,
/// the program headers, `PT_INTERP`, `PT_DYNAMIC` and the strings it names. A byte slice
/// is one; so is an open file read with `pread` (see the resolver).
pub(crate) trait Source {
    /// The file's length in bytes.
    fn size(&self) -> u64;
    /// Bytes `[off, off + len)`, or `None` when the range is not inside the file or cannot be
    /// read.
    fn get(&self, off: u64, len: u64) -> Option<Cow<'_, [u8]>>;
    /// Bytes `[off, off + len)` to keep after the source is gone: a copy, unless the source
    /// can share them (a mapped file, see [`symbols`](crate::elf::symbols)).
    fn table(&self, off: u64, len: u64) -> Option<crate::elf::symbols::Table> {
        self.get(off, len).map(|c| crate::elf::symbols::Table::Owned(c.into_owned().into_boxed_slice()))
    }
}

impl Source for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn get(&self, off: u64, len: u64) -> Option<Cow<'_, [u8]>> {
        file_slice(self, off, len).map(Cow::Borrowed)
    }
}

/// True when `[off, off + len)` lies inside a file of `size` bytes.
pub(crate) fn in_file(size: u64, off: u64, len: u64) -> bool {
    off.checked_add(len).is_some_and(|end| end <= size)
}

pub(crate) fn file_slice(data: &[u8], off: u64, len: u64) -> Option<&[u8]> {
    let off = usize::try_from(off).ok()?;
    let len = usize::try_from(len).ok()?;
    data.get(off..off.checked_add(len)?)
}
