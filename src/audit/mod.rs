//! Audit: what a tree or a set of built packages spends on bytecode, and what is wrong with it.
//!
//! A directory and an `.rpm` file both become one [`model::Inventory`]: a list of installed
//! paths with size, storage identity (inode or rpm hardlink set), content identity (bytes on
//! disk or the header's file digest), mode, owner, mtime and `%ghost`. Everything after that,
//! [`analysis`] for `stats` and [`findings`] for `check`, is written once against that model.
//! Only `check` reads package payloads ([`payload::read_payload_files`]); `stats` reads headers.
//! Every command handles each item as it is read and drops it ([`Plan::run`]), so that a
//! mirror's packages fit in memory: `stats` keeps a row, `check` an index of the packages'
//! sources ([`check_run`]), `stats --together` the sums of the parts of the installation that
//! no other item shares a module with.

pub mod analysis;
pub mod check_run;
pub mod findings;
pub mod layout_sizes;
pub mod model;
pub mod package;
pub mod payload;
pub mod pyc;
pub mod report;
pub mod rpm_header;
pub mod summary;
pub mod tree;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{mpsc, Condvar, Mutex, MutexGuard};

use crate::error::Error;
use model::Inventory;

/// What a run over the named paths will read, in order: the directories walked (each one's
/// tree read already, as an item of its own), the packages not yet read.
pub struct Plan {
    steps: Vec<Step>,
    /// How many items [`Plan::run`] hands on: trees, packages and errors.
    pub items: usize,
    /// How far, per worker, reading may run ahead of the item handed on last.
    ahead_per_worker: usize,
}

enum Step {
    /// A tree, or an error met while listing the paths (boxed: a mirror's plan is a list of
    /// package paths, each step as small as a path).
    Ready(Box<Result<Inventory, Error>>),
    Package(PathBuf),
}

/// How far, per worker, reading may run ahead of the item handed on last: far enough that a
/// package ten times the size of its neighbours keeps no worker waiting, near enough that
/// the rows waiting for it stay a few hundred (rows are small; inventories are held only
/// while a worker judges them).
pub const ITEMS_AHEAD_PER_WORKER: usize = 64;

impl Plan {
    /// Lists the named paths: a directory is walked (its tree and its `.rpm` files), any other
    /// path is a package, read later.
    pub fn new(paths: &[PathBuf]) -> Plan {
        let mut steps = Vec::new();
        for path in paths {
            match std::fs::metadata(path) {
                Err(e) => steps.push(Step::Ready(Box::new(Err(Error::io(path, e))))),
                Ok(meta) if !meta.is_dir() => steps.push(Step::Package(path.clone())),
                Ok(_) => {
                    let tree::Scanned { tree, packages, errors } = tree::inventory(path);
                    steps.extend(errors.into_iter().map(|e| Step::Ready(Box::new(Err(e)))));
                    steps.extend(tree::tree_item(tree, !packages.is_empty()).map(|tree| Step::Ready(Box::new(tree))));
                    steps.extend(packages.into_iter().map(Step::Package));
                }
            }
        }
        Plan { items: steps.len(), steps, ahead_per_worker: ITEMS_AHEAD_PER_WORKER }
    }

    /// How far, per worker, reading may run ahead of the item handed on last, for judgements
    /// larger than a row (the default is [`ITEMS_AHEAD_PER_WORKER`]); at least 1.
    pub fn ahead_per_worker(mut self, items: usize) -> Plan {
        self.ahead_per_worker = items.max(1);
        self
    }

    /// Hands every item, in the order named (a directory's packages after it, by path), through `judge` to `on_item` (in
    /// order, on this thread). One worker per thread of the pool reads and judges the next item
    /// as soon as it is done with one, and drops each inventory once judged: memory is that of
    /// the largest packages being judged, not of all of them, and no worker waits for another
    /// (a fixed batch would wait for its largest package). `on_item` returning an error stops
    /// the run with it.
    pub fn run<T: Send, E>(
        self,
        judge: impl Fn(Inventory) -> T + Sync,
        on_item: impl FnMut(Result<T, Error>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.run_numbered(|_, inventory| judge(inventory), on_item)
    }

    /// [`Plan::run`], where `judge` is also told the item's number (items are numbered from 0
    /// in the order they are handed on, errors included).
    pub fn run_numbered<T: Send, E>(
        self,
        judge: impl Fn(usize, Inventory) -> T + Sync,
        mut on_item: impl FnMut(Result<T, Error>) -> Result<(), E>,
    ) -> Result<(), E> {
        let workers = rayon::current_num_threads().max(1);
        let ahead = self.ahead_per_worker * workers;
        let queue =
            Mutex::new(Queue { steps: self.steps.into_iter().enumerate(), taken: 0, handed_on: 0, stop: false });
        let room = Condvar::new();
        let (sender, receiver) = mpsc::channel::<(usize, Result<T, Error>)>();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let sender = sender.clone();
                let (queue, room, judge) = (&queue, &room, &judge);
                scope.spawn(move || {
                    // A worker that panics stops the others, which would wait for its item.
                    let _stop_on_panic = StopOnPanic { queue, room };
                    while let Some((index, step)) = next_step(queue, room, ahead) {
                        let item = match step {
                            Step::Ready(item) => *item,
                            Step::Package(path) => package::inventory(&path),
                        };
                        if sender.send((index, item.map(|inventory| judge(index, inventory)))).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(sender);
            // An on_item that panics stops the workers too, which would wait for room.
            let _stop_on_panic = StopOnPanic { queue: &queue, room: &room };
            // Items come in the order they are done: each waits here for those before it.
            let mut waiting: BTreeMap<usize, Result<T, Error>> = BTreeMap::new();
            let mut handed_on = 0;
            let mut result = Ok(());
            'items: for (index, item) in &receiver {
                waiting.insert(index, item);
                while let Some(item) = waiting.remove(&handed_on) {
                    handed_on += 1;
                    lock(&queue).handed_on = handed_on;
                    room.notify_all();
                    if let Err(e) = on_item(item) {
                        result = Err(e);
                        break 'items;
                    }
                }
            }
            lock(&queue).stop = true;
            room.notify_all();
            drop(receiver);
            result
        })
    }
}

/// What the workers of [`Plan::run`] share: the steps not yet taken, with their index.
struct Queue {
    steps: std::iter::Enumerate<std::vec::IntoIter<Step>>,
    /// How many steps the workers have taken.
    taken: usize,
    /// How many items [`Plan::run`] has handed on.
    handed_on: usize,
    /// Set when the run ends early: the workers stop taking steps.
    stop: bool,
}

fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    // A worker that panicked holds no invariant of the queue half-changed.
    queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The next step for a worker, once it is no more than `ahead` items past the last handed
/// on; `None` when there is none or the run stops.
fn next_step(queue: &Mutex<Queue>, room: &Condvar, ahead: usize) -> Option<(usize, Step)> {
    let mut queue = lock(queue);
    loop {
        if queue.stop {
            return None;
        }
        let (taken, handed_on) = (queue.taken, queue.handed_on);
        if taken < handed_on + ahead {
            queue.taken += 1;
            return queue.steps.next();
        }
        queue = room.wait(queue).unwrap_or_else(|poisoned| poisoned.into_inner());
    }
}

/// Stops the run when the thread holding it (a worker, or the one handing items on) unwinds
/// from a panic.
struct StopOnPanic<'a> {
    queue: &'a Mutex<Queue>,
    room: &'a Condvar,
}

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            lock(self.queue).stop = true;
            self.room.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A plan of `n` ready trees named by their number.
    fn plan_of(n: usize) -> Plan {
        let tree = |i: usize| Inventory {
            kind: model::ItemKind::Tree,
            location: PathBuf::from(i.to_string()),
            name: i.to_string(),
            files: Vec::new(),
            package_name: None,
        };
        Plan {
            steps: (0..n).map(|i| Step::Ready(Box::new(Ok(tree(i))))).collect(),
            items: n,
            ahead_per_worker: ITEMS_AHEAD_PER_WORKER,
        }
    }

    #[test]
    fn items_are_handed_on_in_order_whatever_order_they_are_judged_in() {
        rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap().install(|| {
            let mut names = Vec::new();
            // Every eighth item takes long, so that the items after it are judged first.
            let judge = |inventory: Inventory| {
                let slow = inventory.name.parse::<usize>().unwrap() % 8 == 0;
                std::thread::sleep(Duration::from_millis(if slow { 20 } else { 1 }));
                inventory.name
            };
            plan_of(100)
                .run(judge, |item| -> Result<(), ()> {
                    names.push(item.unwrap());
                    Ok(())
                })
                .unwrap();
            assert_eq!(names, (0..100).map(|i| i.to_string()).collect::<Vec<_>>());
        });
    }

    #[test]
    fn a_panic_while_handing_on_stops_the_workers_and_reaches_the_caller() {
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let run = std::panic::AssertUnwindSafe(|| {
                plan_of(100 * ITEMS_AHEAD_PER_WORKER).run(
                    |inventory| inventory.name,
                    |_| -> Result<(), ()> {
                        // Time for the workers to fill their window and wait for room.
                        std::thread::sleep(Duration::from_millis(100));
                        panic!("on_item panics");
                    },
                )
            });
            let _ = done.send(std::panic::catch_unwind(run).is_err());
        });
        assert_eq!(finished.recv_timeout(Duration::from_secs(60)), Ok(true), "the run hangs or does not panic");
    }

    #[test]
    fn an_error_from_on_item_stops_the_workers() {
        let judged = AtomicUsize::new(0);
        let items = 100 * ITEMS_AHEAD_PER_WORKER;
        let mut handed_on = 0;
        let result = plan_of(items).run(
            |_| judged.fetch_add(1, Ordering::Relaxed),
            |_| {
                handed_on += 1;
                if handed_on == 3 {
                    Err("stop")
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!((result, handed_on), (Err("stop"), 3));
        // Workers run at most their window ahead of the items handed on.
        let ahead = ITEMS_AHEAD_PER_WORKER * rayon::current_num_threads();
        assert!(
            judged.load(Ordering::Relaxed) <= 3 + ahead + rayon::current_num_threads(),
            "{judged:?} of {items} judged"
        );
    }
}
