//! The progress line of a long `stats` run: on standard error, only when it is a terminal (with
//! a `TERM` other than `dumb`: indicatif draws nothing otherwise) and
//! the output is not JSON, so that logs, pipes and scripts never see it.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Items read out of how many, the rate and the time left; nothing at all when hidden.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A spinner while the paths are listed (a large tree takes a while to walk), shown only
    /// when `wanted` and standard error is a terminal.
    pub fn new(wanted: bool) -> Progress {
        if !wanted || !std::io::stderr().is_terminal() {
            return Progress { bar: ProgressBar::hidden() };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(ProgressStyle::with_template("{spinner} listing {msg} ({elapsed})").expect("a valid template"));
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar }
    }

    /// Names what is being listed: the first path, and how many more (a shell glob over a
    /// mirror gives thousands).
    pub fn listing(&self, paths: &[std::path::PathBuf]) {
        let Some(first) = paths.first() else { return };
        let more = match paths.len() - 1 {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        self.bar.set_message(format!("{}{more}", first.display()));
    }

    /// From listing to reading: `items` to go.
    pub fn reading(&self, items: usize) {
        self.bar.set_style(
            ProgressStyle::with_template("{pos}/{len} items read, {per_sec:1}, {eta} left").expect("a valid template"),
        );
        self.bar.set_length(items as u64);
        self.bar.set_position(0);
        self.bar.reset_eta();
    }

    pub fn item_done(&self) {
        self.bar.inc(1);
    }
}

impl Drop for Progress {
    /// The line goes before the report is printed, also when the run ends in an error.
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
