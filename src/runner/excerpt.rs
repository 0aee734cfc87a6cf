//! The log excerpt stored in `agents_tasks.log_excerpt`: the first and last 10 lines with an
//! elision marker between, each line cut at 1 KiB (`…[+N bytes]`), at most 8 KiB in all,
//! always valid UTF-8 without NUL (PostgreSQL text cannot hold one).

use std::collections::VecDeque;

pub const HEAD: usize = 10;
pub const TAIL: usize = 10;
pub const LINE_MAX: usize = 1024;
pub const EXCERPT_MAX: usize = 8 * 1024;

/// One line as the excerpt keeps it: its first bytes and its full length.
#[derive(Clone, Debug, Default)]
struct Line {
    prefix: Vec<u8>,
    len: usize,
}

#[derive(Debug, Default)]
pub struct Excerpt {
    head: Vec<Line>,
    tail: VecDeque<Line>,
    total: u64,
}

impl Excerpt {
    /// Records a finished line: `prefix` holds at least its first `LINE_MAX` bytes (or all of
    /// it), `len` its full length without the newline.
    pub fn push(&mut self, prefix: &[u8], len: usize) {
        let keep = &prefix[..prefix.len().min(LINE_MAX).min(len)];
        self.total += 1;
        if self.head.len() < HEAD {
            self.head.push(Line {
                prefix: keep.to_vec(),
                len,
            });
            return;
        }
        // The oldest tail line's buffer is reused for the newest: no allocation per line
        // once the tail is full, however many lines go by.
        let mut line = if self.tail.len() == TAIL {
            self.tail.pop_front().unwrap_or_default()
        } else {
            Line::default()
        };
        line.prefix.clear();
        line.prefix.extend_from_slice(keep);
        line.len = len;
        self.tail.push_back(line);
    }

    /// Records `count` whole lines at once, `line(k)` being the k-th (without its newline).
    /// Only the lines that can still be shown are copied: the first ones while the head
    /// fills, then the last `TAIL`; those between are only counted.
    pub fn push_all<'a>(&mut self, count: usize, line: impl Fn(usize) -> &'a [u8]) {
        let head = (HEAD - self.head.len().min(HEAD)).min(count);
        for k in 0..head {
            self.push(line(k), line(k).len());
        }
        let tail_from = head.max(count.saturating_sub(TAIL));
        self.total += (tail_from - head) as u64;
        for k in tail_from..count {
            self.push(line(k), line(k).len());
        }
    }

    pub fn lines(&self) -> u64 {
        self.total
    }

    /// The excerpt text; `reason` (why the task failed) becomes its last line.
    pub fn render(&self, reason: Option<&str>) -> String {
        let reason = reason.map(clean);
        let reserved = reason.as_ref().map_or(0, |r| r.len() + 1) + 64;
        let budget = EXCERPT_MAX.saturating_sub(reserved);
        // Start at 1 KiB per line and tighten until the whole fits in 8 KiB.
        let mut per_line = LINE_MAX;
        let mut text = self.render_with(per_line);
        while text.len() > budget && per_line > 16 {
            per_line = per_line * 3 / 4;
            text = self.render_with(per_line);
        }
        if let Some(r) = reason {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&r);
        }
        truncate_at_char(&mut text, EXCERPT_MAX);
        text
    }

    fn render_with(&self, per_line: usize) -> String {
        let mut out: Vec<String> = self.head.iter().map(|l| line_text(l, per_line)).collect();
        let shown = (self.head.len() + self.tail.len()) as u64;
        if self.total > shown {
            out.push(format!("… {} lines elided …", self.total - shown));
        }
        out.extend(self.tail.iter().map(|l| line_text(l, per_line)));
        out.join("\n")
    }
}

fn line_text(l: &Line, max: usize) -> String {
    let mut bytes = &l.prefix[..l.prefix.len().min(max)];
    if let Some(stripped) = bytes.strip_suffix(b"\r") {
        bytes = stripped;
    }
    let mut text = clean(&String::from_utf8_lossy(bytes));
    if l.len > bytes.len() && l.len > max {
        text.push_str(&format!("…[+{} bytes]", l.len - bytes.len()));
    }
    text
}

/// NUL cannot be stored in PostgreSQL text; other control characters are kept.
fn clean(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_all_keeps_what_push_would_keep() {
        let lines: Vec<String> = (0..57).map(|i| format!("line {i}")).collect();
        for split in [0, 3, 10, 11, 25, 47, 57] {
            let mut one_by_one = Excerpt::default();
            for l in &lines {
                one_by_one.push(l.as_bytes(), l.len());
            }
            let mut at_once = Excerpt::default();
            let (a, b) = lines.split_at(split);
            at_once.push_all(a.len(), |k| a[k].as_bytes());
            at_once.push_all(b.len(), |k| b[k].as_bytes());
            assert_eq!(
                at_once.render(None),
                one_by_one.render(None),
                "split {split}"
            );
            assert_eq!(at_once.lines(), 57);
        }
    }

    fn excerpt_of(lines: &[&[u8]]) -> Excerpt {
        let mut e = Excerpt::default();
        for l in lines {
            e.push(l, l.len());
        }
        e
    }

    #[test]
    fn short_output_is_kept_whole() {
        let e = excerpt_of(&[b"one", b"two"]);
        assert_eq!(e.render(Some("exit status 3")), "one\ntwo\nexit status 3");
        assert_eq!(Excerpt::default().render(None), "");
    }

    #[test]
    fn long_output_keeps_head_and_tail() {
        let owned: Vec<Vec<u8>> = (1..=25).map(|i| format!("line {i}").into_bytes()).collect();
        let refs: Vec<&[u8]> = owned.iter().map(|v| v.as_slice()).collect();
        let text = excerpt_of(&refs).render(None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 21);
        assert_eq!(lines[0], "line 1");
        assert_eq!(lines[9], "line 10");
        assert_eq!(lines[10], "… 5 lines elided …");
        assert_eq!(lines[20], "line 25");
    }

    #[test]
    fn long_lines_are_cut_and_the_whole_stays_under_8_kib() {
        let mut e = Excerpt::default();
        for _ in 0..30 {
            e.push(&[b'x'; LINE_MAX], 5000);
        }
        let text = e.render(Some("exit status 1"));
        assert!(text.len() <= EXCERPT_MAX, "{}", text.len());
        assert!(text.contains("…[+"));
        assert!(text.ends_with("exit status 1"));
    }

    #[test]
    fn binary_becomes_replacement_characters() {
        let e = excerpt_of(&[b"\xff\xfe\x00ok"]);
        assert_eq!(e.render(None), "\u{FFFD}\u{FFFD}\u{FFFD}ok");
    }
}
