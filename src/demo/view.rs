//! The demo's live view on stderr: leads, calls ringing and talking, operators and their
//! states, outcomes, the abandon rate. Redrawn in place on a terminal; a line every few
//! seconds otherwise.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::engine::LiveFigures;

pub struct View {
    live: bool,
    terminal: bool,
    leads: u64,
    lines: usize,
    last_line: Option<Duration>,
}

impl View {
    pub fn new(live: bool, leads: u64) -> View {
        View {
            live,
            terminal: std::io::stderr().is_terminal(),
            leads,
            lines: 0,
            last_line: None,
        }
    }

    pub fn draw(&mut self, f: &LiveFigures, elapsed: Duration) {
        if !self.live {
            return;
        }
        let rate = if f.answered > 0 {
            f.abandoned as f64 / f.answered as f64 * 100.0
        } else {
            0.0
        };
        let mut err = std::io::stderr().lock();
        if !self.terminal {
            if self
                .last_line
                .is_some_and(|t| elapsed.saturating_sub(t) < Duration::from_secs(5))
            {
                return;
            }
            self.last_line = Some(elapsed);
            let _ = writeln!(
                err,
                "[{:>4}s] leads open {}/{}  ringing {}  talking {}  calls {}  answered {}  bridged {}  abandoned {} ({rate:.1}%)",
                elapsed.as_secs(),
                f.leads_open,
                self.leads,
                f.calls_ringing,
                f.calls_talking,
                f.calls,
                f.answered,
                f.bridged,
                f.abandoned
            );
            return;
        }
        let mut out = Vec::new();
        out.push(format!(
            "predial demo — {}s   (Ctrl-C stops)",
            elapsed.as_secs()
        ));
        out.push(format!(
            "leads   open {:>4} of {:<4}   calls placed {:>4}   ringing {:>3}   talking {:>3}",
            f.leads_open, self.leads, f.calls, f.calls_ringing, f.calls_talking
        ));
        out.push(format!(
            "answers {:>4}   bridged {:>4}   abandoned {:>3}   abandon rate {rate:.1}%",
            f.answered, f.bridged, f.abandoned
        ));
        let outcomes: Vec<String> = f.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push(format!("outcomes  {}", outcomes.join("  ")));
        let results: Vec<String> = f.results.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push(format!("results   {}", results.join("  ")));
        for o in &f.operators {
            out.push(format!(
                "  {:<10} {:<10} calls {:>3}  missed {:>2}  {}",
                o.login,
                o.state,
                o.calls,
                o.missed,
                o.reason.as_deref().unwrap_or("")
            ));
        }
        // Back over the last drawing, then the new one.
        if self.lines > 0 {
            let _ = write!(err, "\x1b[{}A", self.lines);
        }
        for line in &out {
            let _ = writeln!(err, "\x1b[2K{line}");
        }
        self.lines = out.len();
    }

    pub fn finish(&mut self) {
        if self.live && self.terminal {
            let _ = writeln!(std::io::stderr());
        }
    }
}
