//! The stdio transport: a reader thread that frames stdin into lines (with a size cap) and a
//! writer thread that emits one compact JSON message per line and flushes each one.
//!
//! Both ends are generic over `Read`/`Write` so tests can drive them with in-memory buffers.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::mpsc;
use std::thread::JoinHandle;

use serde_json::Value;

use super::RequestId;
use super::recover::IdScanner;

/// What the reader thread hands to the main loop.
#[derive(Debug)]
pub enum Input {
    Line(Vec<u8>),
    /// A line longer than the cap; its bytes were discarded up to the next newline, scanned on
    /// the way for the request's id (`recover`).
    Oversized {
        bytes: usize,
        id: Option<RequestId>,
    },
    /// stdin closed (or failed): the client is gone.
    Eof,
}

/// Spawns the reader. Blank lines are skipped; everything else is passed on verbatim.
pub fn spawn_reader<R: Read + Send + 'static>(
    input: R,
    max_line_bytes: usize,
    to_main: mpsc::Sender<Input>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("stdin-reader".into())
        .spawn(move || {
            let mut reader = BufReader::with_capacity(64 * 1024, input);
            loop {
                let item = match read_capped_line(&mut reader, max_line_bytes) {
                    Ok(None) | Err(_) => Input::Eof,
                    Ok(Some(CappedLine::Fits(line))) if line.iter().all(u8::is_ascii_whitespace) => continue,
                    Ok(Some(CappedLine::Fits(line))) => Input::Line(line),
                    Ok(Some(CappedLine::TooLong { bytes, id })) => Input::Oversized { bytes, id },
                };
                let eof = matches!(item, Input::Eof);
                if to_main.send(item).is_err() || eof {
                    return;
                }
            }
        })
        .expect("spawn stdin reader thread")
}

enum CappedLine {
    Fits(Vec<u8>),
    TooLong { bytes: usize, id: Option<RequestId> },
}

/// Reads one `\n`-terminated line without ever buffering more than `cap` bytes of it, so a
/// hostile multi-gigabyte line costs no memory: past the cap, the bytes go only through the id
/// scanner. `None` at EOF with nothing read.
fn read_capped_line<R: BufRead>(reader: &mut R, cap: usize) -> std::io::Result<Option<CappedLine>> {
    let mut line = Vec::new();
    let mut total = 0usize;
    let mut scanner: Option<IdScanner> = None;
    let too_long = |total, scanner: Option<IdScanner>| CappedLine::TooLong {
        bytes: total,
        id: scanner.and_then(IdScanner::finish),
    };
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(match total {
                0 => None,
                _ if total > cap => Some(too_long(total, scanner)),
                _ => Some(CappedLine::Fits(line)),
            });
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(pos) => (pos, true),
            None => (chunk.len(), false),
        };
        if total + take <= cap {
            line.extend_from_slice(&chunk[..take]);
        } else {
            let scanner = scanner.get_or_insert_with(|| {
                let mut scanner = IdScanner::default();
                scanner.feed(&std::mem::take(&mut line));
                scanner
            });
            scanner.feed(&chunk[..take]);
        }
        total += take;
        reader.consume(if done { take + 1 } else { take });
        if done {
            return Ok(Some(if total > cap { too_long(total, scanner) } else { CappedLine::Fits(line) }));
        }
    }
}

enum Out {
    Message(Value),
    /// Answered once everything queued before it has been written and flushed.
    Barrier(mpsc::Sender<()>),
}

/// The sending end of the writer thread; cheap to clone into tool-call threads.
#[derive(Clone)]
pub struct Outbox(mpsc::Sender<Out>);

impl Outbox {
    /// Queues one message. A closed writer (stdout gone) is not an error worth surfacing: the
    /// client that would read it has left.
    pub fn send(&self, message: Value) {
        let _ = self.0.send(Out::Message(message));
    }
}

/// Spawns the writer; it ends when every `Outbox` clone is dropped or stdout fails.
pub fn spawn_writer<W: Write + Send + 'static>(mut output: W) -> (Outbox, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<Out>();
    let handle = std::thread::Builder::new()
        .name("stdout-writer".into())
        .spawn(move || {
            for item in rx {
                let message = match item {
                    Out::Message(message) => message,
                    Out::Barrier(done) => {
                        let _ = done.send(());
                        continue;
                    }
                };
                // `to_vec` is compact JSON: a newline inside a string is escaped, so the only
                // raw newline on the wire is the frame terminator.
                let Ok(mut bytes) = serde_json::to_vec(&message) else { continue };
                bytes.push(b'\n');
                if output.write_all(&bytes).and_then(|()| output.flush()).is_err() {
                    return;
                }
            }
        })
        .expect("spawn stdout writer thread");
    (Outbox(tx), handle)
}

/// Waits (at most `grace`) until everything queued so far is written. A call thread that is
/// still stuck keeps its own `Outbox` clone alive, so the writer is joined only if it ended.
pub fn finish(outbox: Outbox, writer: JoinHandle<()>, grace: std::time::Duration) {
    let (done_tx, done_rx) = mpsc::channel();
    let _ = outbox.0.send(Out::Barrier(done_tx));
    drop(outbox);
    let _ = done_rx.recv_timeout(grace);
    if writer.is_finished() {
        let _ = writer.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], cap: usize) -> Vec<String> {
        let (tx, rx) = mpsc::channel();
        spawn_reader(std::io::Cursor::new(input.to_vec()), cap, tx).join().unwrap();
        rx.iter()
            .map(|item| match item {
                Input::Line(l) => String::from_utf8(l).unwrap(),
                Input::Oversized { bytes, id } => format!("<oversized {bytes} {id:?}>"),
                Input::Eof => "<eof>".into(),
            })
            .collect()
    }

    #[test]
    fn frames_lines_skips_blanks_and_caps_long_ones() {
        assert_eq!(lines(b"a\n\n  \nbcdef\ngh", 4), vec!["a", "<oversized 5 None>", "gh", "<eof>"]);
    }

    #[test]
    fn a_line_exactly_at_the_cap_fits() {
        assert_eq!(lines(b"abcd\n", 4), vec!["abcd", "<eof>"]);
    }

    #[test]
    fn oversized_line_split_across_buffer_fills_is_skipped_whole() {
        let mut input = vec![b'x'; 200_000];
        input.extend_from_slice(b"\nok\n");
        assert_eq!(lines(&input, 1000), vec!["<oversized 200000 None>", "ok", "<eof>"]);
    }

    #[test]
    fn an_oversized_line_keeps_its_id_wherever_it_stands() {
        let big = "x".repeat(200_000);
        let first = format!("{{\"id\":\"early\",\"params\":{{\"q\":\"{big}\"}}}}\n");
        let last = format!("{{\"params\":{{\"q\":\"{big}\",\"id\":1}},\"id\":42}}\n");
        assert_eq!(
            lines(format!("{first}{last}").as_bytes(), 1000),
            vec![
                format!("<oversized {} Some(Text(\"early\"))>", first.len() - 1),
                format!("<oversized {} Some(Number(42))>", last.len() - 1),
                "<eof>".into()
            ]
        );
    }
}
