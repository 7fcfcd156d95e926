//! Where guests' stdout and stderr go: the host's stderr, and a bounded
//! in-memory copy that tests read to check what warden logged (and that no
//! secret ever reaches a log line).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// How much guest output the in-memory copy keeps (the newest bytes).
const KEEP: usize = 4 * 1024 * 1024;

#[derive(Clone, Default)]
pub struct GuestLog {
    buf: Arc<Mutex<Vec<u8>>>,
    quiet: bool,
}

impl GuestLog {
    /// A log that is not echoed to the host's stderr (for tests).
    pub fn quiet() -> GuestLog {
        GuestLog {
            quiet: true,
            ..GuestLog::default()
        }
    }

    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Everything the guests wrote so far, as text (quiet logs only; an
    /// echoing log keeps no copy).
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }

    fn write(&self, bytes: &[u8]) {
        if !self.quiet {
            // A host that echoes (the CLI, the demo, the benchmark) keeps no
            // copy: nobody reads it, and copying every line costs throughput.
            use std::io::Write;
            let _ = io::stderr().write_all(bytes);
            return;
        }
        let mut buf = self.buf.lock().unwrap();
        buf.extend_from_slice(bytes);
        // Trim in large steps, so a chatty guest costs amortized O(1) per
        // byte rather than a 4 MiB move per line once the buffer is full.
        if buf.len() > 2 * KEEP {
            let cut = buf.len() - KEEP;
            buf.drain(..cut);
        }
    }
}

impl std::fmt::Debug for GuestLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestLog")
            .field("quiet", &self.quiet)
            .finish_non_exhaustive()
    }
}

impl IsTerminal for GuestLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestLog {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for GuestLog {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write(bytes);
        Poll::Ready(Ok(bytes.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
