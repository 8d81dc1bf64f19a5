//! Chunks through a function on all cores, the results handed on in their original order,
//! with a bounded number of chunks in memory at any time.
//!
//! One thread reads ahead (reading and decoding a file is serial work that overlaps with
//! the rest); batches of as many chunks as there are cores are then processed together, and
//! their results are written one after another before the next batch starts.

use crate::error::{check_interrupt, Interrupted};
use rayon::prelude::*;
use std::sync::mpsc;

/// Runs `work` on every item of `source` and gives the results to `sink` in order. At most
/// `2 × cores + 1` items are read ahead or worked on at once. The first error stops everything,
/// and so does a stop asked for from outside (see `balerc_io::interrupt`), between batches.
pub(super) fn map_in_order<T: Send, U: Send, E: Send + From<Interrupted>>(
    source: impl Iterator<Item = Result<T, E>> + Send,
    work: impl Fn(T) -> Result<U, E> + Sync,
    mut sink: impl FnMut(U) -> Result<(), E>,
) -> Result<(), E> {
    let batch = rayon::current_num_threads().max(1);
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::sync_channel(batch);
        scope.spawn(move || {
            for item in source {
                let failed = item.is_err();
                // The receiver is gone when the consumer stopped on an error.
                if sender.send(item).is_err() || failed {
                    break;
                }
            }
        });
        let mut items = receiver.iter();
        loop {
            check_interrupt()?;
            let taken: Vec<Result<T, E>> = items.by_ref().take(batch).collect();
            if taken.is_empty() {
                return Ok(());
            }
            let results: Vec<Result<U, E>> = taken.into_par_iter().map(|item| work(item?)).collect();
            for result in results {
                sink(result?)?;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_order_and_the_first_error_stops() {
        let mut seen = vec![];
        // Any error that a stop from outside converts into will do; the stop itself is simplest.
        let source = (0..100).map(Ok::<i32, Interrupted>);
        map_in_order(
            source,
            |i: i32| Ok(i * 2),
            |v| {
                seen.push(v);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..100).map(|i| i * 2).collect::<Vec<_>>());

        let mut seen = vec![];
        let source = (0..100).map(|i| if i == 57 { Err(Interrupted(format!("bad {i}"))) } else { Ok(i) });
        let error = map_in_order(source, Ok, |v| {
            seen.push(v);
            Ok(())
        })
        .unwrap_err();
        assert_eq!((error.0.as_str(), seen.len()), ("bad 57", 57));

        let work = |i: i32| if i == 3 { Err(Interrupted("work".into())) } else { Ok(i) };
        let error = map_in_order((0..10).map(Ok), work, |_| Ok(()));
        assert_eq!(error.unwrap_err().0, "work");
    }
}
