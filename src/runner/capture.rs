//! Turning one pipe's bytes into redacted pieces: whole lines when they are short, or slices
//! of a long line (bounded memory, however long the line), never cutting a secret in two.

use std::sync::Arc;

use crate::secrets::Redactor;

/// Which pipe a piece came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A redacted piece of output: whole lines (each ending in `\n`), or a slice of one long
/// line. `line_end` is set when the piece ends a line: always for whole lines, and for the
/// last piece of the output even without a final newline.
#[derive(Debug)]
pub struct Piece {
    pub stream: Stream,
    pub bytes: Vec<u8>,
    pub line_end: bool,
}

/// A line longer than this is passed on in slices rather than buffered whole.
pub const SLICE: usize = 64 * 1024;

pub struct Splitter {
    stream: Stream,
    pending: Vec<u8>,
    redactor: Arc<Redactor>,
    /// A slice of the current line was already passed on.
    mid_line: bool,
}

impl Splitter {
    pub fn new(stream: Stream, redactor: Arc<Redactor>) -> Self {
        Splitter {
            stream,
            pending: Vec::new(),
            redactor,
            mid_line: false,
        }
    }

    /// Takes newly read bytes; appends the pieces that are ready to `out`.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<Piece>) {
        // Nothing held back (the usual case): the complete lines go out straight from `data`,
        // one copy instead of two.
        if self.pending.is_empty()
            && let Some(last_nl) = memchr::memrchr(b'\n', data)
        {
            out.push(self.piece(&data[..=last_nl], true));
            self.mid_line = false;
            self.pending.extend_from_slice(&data[last_nl + 1..]);
            return;
        }
        self.pending.extend_from_slice(data);
        // Every complete line in one piece: per-line work belongs to the collector, which
        // needs it anyway, not to the channel between the two.
        if let Some(last_nl) = memchr::memrchr(b'\n', &self.pending) {
            out.push(self.piece(&self.pending[..=last_nl], true));
            self.mid_line = false;
            self.pending.drain(..=last_nl);
        }
        if self.pending.len() > SLICE {
            let cut = self.redactor.safe_split(&self.pending);
            if cut > 0 {
                out.push(self.piece(&self.pending[..cut], false));
                self.pending.drain(..cut);
                self.mid_line = true;
            }
        }
    }

    /// The output ended: whatever is left is the last line.
    pub fn finish(&mut self, out: &mut Vec<Piece>) {
        // A line cut into slices ends here even when nothing is left to pass on.
        if !self.pending.is_empty() || self.mid_line {
            out.push(self.piece(&self.pending, true));
            self.pending.clear();
            self.mid_line = false;
        }
    }

    fn piece(&self, bytes: &[u8], line_end: bool) -> Piece {
        Piece {
            stream: self.stream,
            bytes: self.redactor.redact_bytes(bytes),
            line_end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(chunks: &[&[u8]], secrets: &[&str]) -> (Vec<u8>, usize) {
        let mut s = Splitter::new(Stream::Stdout, Arc::new(Redactor::new(secrets.iter())));
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut out);
        }
        s.finish(&mut out);
        let lines = out.iter().filter(|p| p.line_end).count();
        (out.into_iter().flat_map(|p| p.bytes).collect(), lines)
    }

    #[test]
    fn splits_lines_across_reads() {
        let (bytes, pieces) = collect(&[b"a\nb", b"c\n", b"tail"], &[]);
        assert_eq!(bytes, b"a\nbc\ntail");
        assert_eq!(pieces, 3);
    }

    #[test]
    fn a_huge_line_without_newline_still_ends() {
        let big = vec![b'x'; SLICE * 3];
        let (bytes, lines) = collect(&[&big], &[]);
        assert_eq!(bytes.len(), SLICE * 3);
        assert_eq!(lines, 1);
    }

    #[test]
    fn a_secret_split_across_reads_is_masked() {
        let (bytes, _) = collect(&[b"token=hunt", b"er22 ok\n"], &["hunter22"]);
        assert_eq!(bytes, b"token=*** ok\n");
    }

    #[test]
    fn a_secret_at_a_slice_boundary_of_a_huge_line_is_masked() {
        let secret = "s3cr3t-value";
        for offset in SLICE - 20..SLICE + 20 {
            let mut line = vec![b'x'; offset];
            line.extend_from_slice(secret.as_bytes());
            line.extend_from_slice(&vec![b'y'; SLICE]);
            let halves: Vec<&[u8]> = line.chunks(SLICE / 2 + 7).collect();
            let (bytes, lines) = collect(&halves, &[secret]);
            let text = String::from_utf8(bytes).unwrap();
            assert!(!text.contains(secret), "offset {offset}");
            assert!(text.contains("***"));
            assert_eq!(lines, 1);
        }
    }
}
