//! `Hasher`: argon2id hashing on threads of its own, as many as a worker
//! delivers at once.
//!
//! A hash works in 19 MiB of memory for some tens of milliseconds. Left to
//! allocate it per hash, on whichever thread of the runtime's blocking pool,
//! a password worker grew past 500 MiB. Here a few threads of its own do
//! every hash, each in the same memory every time. The threads end when
//! the `Hasher` is dropped.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::password::{hash_memory, hash_password_in};
use crate::{Error, TemporaryPassword};

/// Hashes passwords on dedicated threads.
#[derive(Debug)]
pub(crate) struct Hasher {
    jobs: mpsc::Sender<Job>,
}

/// A password to hash, and where to send it back with its hash.
type Job = (
    TemporaryPassword,
    oneshot::Sender<(TemporaryPassword, Result<String, Error>)>,
);

impl Hasher {
    /// `threads` threads, at least one.
    pub(crate) fn new(threads: usize) -> Result<Hasher, Error> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("roster-hash-{n}"))
                .spawn(move || {
                    let mut memory = hash_memory();
                    loop {
                        // A poisoned lock only means another hashing thread
                        // panicked; the queue itself is whole.
                        let job = queue
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .recv();
                        let Ok((password, reply)) = job else {
                            return;
                        };
                        let hash = hash_password_in(&password, &mut memory);
                        let _ = reply.send((password, hash));
                    }
                })
                .map_err(|e| Error::Task(format!("starting a hashing thread: {e}")))?;
        }
        Ok(Hasher { jobs })
    }

    /// The argon2id hash of `password`, which comes back with it.
    pub(crate) async fn hash(
        &self,
        password: TemporaryPassword,
    ) -> Result<(TemporaryPassword, String), Error> {
        let stopped = || Error::Task("the hashing threads stopped".to_string());
        let (reply, hashed) = oneshot::channel();
        self.jobs.send((password, reply)).map_err(|_| stopped())?;
        let (password, hash) = hashed.await.map_err(|_| stopped())?;
        Ok((password, hash?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify_password;

    #[tokio::test]
    async fn hashes_come_back_with_their_passwords() {
        let hasher = Hasher::new(2).expect("threads");
        let passwords: Vec<TemporaryPassword> = (0..4)
            .map(|_| TemporaryPassword::generate().expect("random"))
            .collect();
        for password in passwords {
            let clear = password.expose().to_string();
            let (back, hash) = hasher.hash(password).await.expect("a hash");
            assert_eq!(back.expose(), clear);
            assert!(verify_password(&clear, &hash));
        }
    }
}
