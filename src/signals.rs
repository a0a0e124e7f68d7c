//! SIGTERM and SIGINT: a clean stop. The `signals` thread (signal-hook's
//! safe iterator; this crate has no `unsafe`) logs one line and triggers
//! [`Shutdown`]: the dump thread stops reading and hands what it received
//! whole to the writer, the writer drains, fsyncs and publishes, the ACK
//! sender sends the ACKs that fsync covers, every thread is joined, and
//! the process exits 0. A second signal during that drain exits at once
//! (status 1): the durability contract holds for any stop.

use std::io;
use std::thread::{self, JoinHandle};

use log::{info, warn};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

use crate::shutdown::Shutdown;

/// The running `signals` thread.
#[derive(Debug)]
pub struct SignalThread {
    handle: Handle,
    thread: JoinHandle<()>,
}

impl SignalThread {
    /// Installs the handlers and starts the thread that triggers `shutdown`.
    ///
    /// # Errors
    /// When the handlers cannot be installed or the thread cannot start.
    pub fn spawn(shutdown: Shutdown) -> io::Result<Self> {
        let mut signals = Signals::new([SIGTERM, SIGINT])?;
        let handle = signals.handle();
        let thread = thread::Builder::new().name("signals".into()).spawn(move || {
            let mut received = false;
            for signal in signals.forever() {
                let name = if signal == SIGINT { "SIGINT" } else { "SIGTERM" };
                if received {
                    warn!("received {name} again, exiting now without waiting for the drain");
                    std::process::exit(1);
                }
                received = true;
                info!("received {name}, shutting down");
                shutdown.trigger();
            }
        })?;
        Ok(SignalThread { handle, thread })
    }

    /// Stops the thread (the handlers stay installed, so a late signal is
    /// ignored rather than killing a process that is exiting anyway).
    pub fn stop(self) {
        self.handle.close();
        let _ = self.thread.join();
    }
}
