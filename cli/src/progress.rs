//! The progress bar shown on standard error while a long run reads its activity file.

use indicatif::{ProgressBar, ProgressStyle};

/// An indicatif bar measured in bytes of the activity file.
pub(crate) struct Bar {
    bar: ProgressBar,
}

impl Bar {
    pub(crate) fn new() -> Bar {
        Bar {
            bar: ProgressBar::hidden(),
        }
    }
}

impl app::account::Progress for Bar {
    fn start(&self, total_bytes: Option<u64>) {
        self.bar
            .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        if let Some(total) = total_bytes {
            self.bar.set_length(total);
        }
        self.bar.set_style(
            ProgressStyle::with_template(
                "{spinner} accounting {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    }

    fn advance(&self, bytes_read: u64) {
        self.bar.set_position(bytes_read);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A spinner on standard error for a step whose length is unknown (reading and storing a
/// coefficient set); it ticks on its own while the step runs.
pub(crate) fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
