//! Benchmarks run by `predial bench ...`: each measures one part of predial on this machine and
//! reports figures as JSON (see docs/benchmarks.md for the figures and how they compare).

pub mod alloc;
pub mod amd;
pub mod cps;
pub mod inbound;
pub mod ingest;
pub mod relay;
pub mod scheduler;
pub mod torture;

/// What keeps a benchmark from starting on this machine.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(
        "{needed} open files are needed and the limit is {limit}: raise it (ulimit -n) or use fewer calls"
    )]
    OpenFiles { needed: usize, limit: libc::rlim_t },
}

/// Raises the limit on open files (sockets) to at least `needed`, up to the hard limit; an
/// error says what to do when the hard limit is lower.
pub fn raise_open_files(needed: usize) -> Result<(), BenchError> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write and read the struct passed; no other memory is touched.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Ok(());
        }
        if lim.rlim_cur as usize >= needed {
            return Ok(());
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    if (lim.rlim_cur as usize) < needed {
        return Err(BenchError::OpenFiles {
            needed,
            limit: lim.rlim_cur,
        });
    }
    Ok(())
}
