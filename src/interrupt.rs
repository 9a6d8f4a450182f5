//! Interruption: SIGINT and SIGTERM during `link` end the run between two operations, never
//! inside one, so that a rename in flight completes and its temporary name is removed.
//!
//! The handler only records the signal (an atomic store is all that is safe there); the walk
//! and the link engine look at [`requested`] before each directory and each link.

use std::sync::atomic::{AtomicI32, Ordering};

static REQUESTED: AtomicI32 = AtomicI32::new(0);

extern "C" fn record(signal: libc::c_int) {
    REQUESTED.store(signal, Ordering::SeqCst);
}

/// Catches SIGINT and SIGTERM for the rest of the process. System calls in progress restart
/// (SA_RESTART), so a link or rename in flight is not cut short.
pub fn install() -> std::io::Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the action is fully initialised, and the handler only stores an atomic.
        let failed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = record as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut()) != 0
        };
        if failed {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The signal that asked the run to stop, if one did.
pub fn requested() -> Option<i32> {
    match REQUESTED.load(Ordering::Relaxed) {
        0 => None,
        signal => Some(signal),
    }
}

/// The name of a signal for messages.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}
