//! Exclusive use of burn's random generator.
//!
//! burn keeps one generator per process (the `flex` backend holds it in a global), and
//! `Device::seed` replaces it. Two threads that each seed and then draw (parameter
//! initialisation, dropout masks) interleave their draws, so a run that is reproducible alone
//! gives a different model when another training runs beside it in the same process: a test
//! harness, a station serving several jobs, an aggregator training its reference model. Every
//! seeded piece of work in oncolens therefore holds [`SeededRng`] from the seed to its last
//! draw, and [`MultimodalModel::new`](crate::MultimodalModel::new) initialises every parameter
//! under [`exclusive`] (burn would otherwise draw lazily, on first use), so that building a model
//! to load weights into does not disturb a seeded run beside it.
//!
//! The lock is re-entrant per thread: a thread that holds it may seed again or build models.

use std::cell::Cell;
use std::sync::{Mutex, MutexGuard};

use crate::Device;

static BURN_RNG: Mutex<()> = Mutex::new(());

thread_local! {
    static HELD: Cell<bool> = const { Cell::new(false) };
}

/// Holds burn's generator for this thread, or `None` when an outer guard of this thread does.
struct Hold(Option<MutexGuard<'static, ()>>);

impl Hold {
    fn take() -> Self {
        if HELD.with(Cell::get) {
            return Self(None);
        }
        // A panic in another holder leaves no broken state behind (the next holder reseeds),
        // so a poisoned lock is taken over.
        let guard = BURN_RNG.lock().unwrap_or_else(|e| e.into_inner());
        HELD.with(|h| h.set(true));
        Self(Some(guard))
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if self.0.is_some() {
            HELD.with(|h| h.set(false));
        }
    }
}

/// Proof that this thread alone draws from burn's generator, which it seeded; released on drop.
#[must_use = "the generator is only exclusive while the guard lives"]
pub struct SeededRng {
    _hold: Hold,
}

impl SeededRng {
    /// Waits for the generator, then seeds it for `device`.
    pub fn acquire(device: &Device, seed: u64) -> Self {
        let hold = Hold::take();
        device.seed(seed);
        Self { _hold: hold }
    }
}

/// Runs `f` while no other thread draws from burn's generator (without reseeding it).
pub fn exclusive<T>(f: impl FnOnce() -> T) -> T {
    let _hold = Hold::take();
    f()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tensor};

    fn draw(device: &Device, seed: u64) -> Vec<f32> {
        let _rng = SeededRng::acquire(device, seed);
        // Nested use on the same thread must not deadlock.
        let a = exclusive(|| Tensor::<1>::random([64], Distribution::Default, device));
        let b = Tensor::<1>::random([64], Distribution::Default, device);
        let mut v = a.into_data().try_to_vec::<f32>().unwrap();
        v.extend(b.into_data().try_to_vec::<f32>().unwrap());
        v
    }

    #[test]
    fn seeded_draws_are_the_same_while_other_threads_draw() {
        let device = Device::flex();
        let alone = draw(&device, 42);
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        exclusive(|| Tensor::<1>::random([8], Distribution::Default, &device));
                    }
                });
            }
            for _ in 0..50 {
                assert_eq!(draw(&device, 42), alone);
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
    }
}
