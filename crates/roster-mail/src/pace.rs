//! `Pace`: spaces out the messages one worker sends, so that at most a
//! configured number start in any second. Waiters queue in turn; each send
//! takes the next free slot.

use std::num::NonZeroU32;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// A send rate shared by the jobs of one worker.
#[derive(Debug)]
pub(crate) struct Pace {
    every: Duration,
    /// The earliest moment the next send may start.
    next: Mutex<Instant>,
}

impl Pace {
    /// At most `per_second` sends a second; `None`: no limit.
    pub(crate) fn new(per_second: Option<NonZeroU32>) -> Pace {
        Pace {
            every: per_second.map_or(Duration::ZERO, |n| Duration::from_secs(1) / n.get()),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this send's slot.
    pub(crate) async fn wait(&self) {
        if self.every.is_zero() {
            return;
        }
        // The lock is held while waiting: the next caller's slot is only
        // known once this one's is taken.
        let mut next = self.next.lock().await;
        tokio::time::sleep_until(*next).await;
        *next = Instant::now().max(*next) + self.every;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sends_are_spaced_to_the_rate() {
        let pace = Pace::new(NonZeroU32::new(4));
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..5 {
            pace.wait().await;
            at.push((Instant::now() - start).as_millis());
        }
        assert_eq!(at, [0, 250, 500, 750, 1000]);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_rate_nothing_waits() {
        let pace = Pace::new(None);
        let start = Instant::now();
        for _ in 0..100 {
            pace.wait().await;
        }
        assert_eq!(Instant::now() - start, Duration::ZERO);
    }
}
