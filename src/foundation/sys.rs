//! The crate's only `unsafe`: the private umask, signalling process groups, arming the
//! parent-death signal, starting a child in a new session, noticing SIGTERM, and finding a sparse
//! file's data. Kept in one small module so every
//! use is reviewed together.

use std::os::unix::process::CommandExt as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// SIGKILL to every process in group `pgid`. Errors (the group is already gone) are ignored.
pub fn kill_group(pgid: i32) {
    signal_group(pgid, libc::SIGKILL);
}

/// SIGTERM to every process in group `pgid`: a request to stop and clean up.
pub fn terminate_group(pgid: i32) {
    signal_group(pgid, libc::SIGTERM);
}

fn signal_group(pgid: i32, signal: libc::c_int) {
    if pgid > 1 {
        // SAFETY: kill(2) has no memory-safety preconditions; a negative pid addresses a group.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// Makes the child the leader of a new session (and so of a new process group): it outlives
/// its parent's group and terminal, as a background worker must.
pub fn new_session(command: &mut std::process::Command) {
    // SAFETY: setsid is async-signal-safe and the closure allocates nothing.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

static TERMINATE_REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn note_terminate(_signal: libc::c_int) {
    TERMINATE_REQUESTED.store(true, Ordering::SeqCst);
}

/// From now on SIGTERM (and SIGINT, SIGHUP) only set a flag, returned here, which the caller
/// polls to stop its work cleanly instead of dying mid-way.
pub fn catch_terminate() -> &'static AtomicBool {
    catch(&[libc::SIGTERM, libc::SIGINT, libc::SIGHUP])
}

/// From now on SIGINT (Ctrl-C) only sets a flag, returned here; other signals keep their default.
pub fn catch_interrupt() -> &'static AtomicBool {
    catch(&[libc::SIGINT])
}

fn catch(signals: &[libc::c_int]) -> &'static AtomicBool {
    for &signal in signals {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(signal, note_terminate as *const () as libc::sighandler_t);
        }
    }
    &TERMINATE_REQUESTED
}

/// Arms `PR_SET_PDEATHSIG` in the child so a synchronous child dies when the server dies, even by
/// SIGKILL. The parent pid is compared after arming to close the race where the parent died
/// before the prctl took effect.
pub fn die_with_parent(command: &mut std::process::Command) {
    // SAFETY: getpid is async-signal-safe and runs before fork.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs between fork and exec and only calls async-signal-safe functions
    // (prctl, getppid, _exit), allocating nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// The local time zone's offset from UTC at `epoch_seconds`, in seconds (east positive), as the
/// C library sees it (`TZ`, `/etc/localtime`); 0 when it cannot say.
pub fn utc_offset_seconds(epoch_seconds: i64) -> i64 {
    let time: libc::time_t = epoch_seconds;
    // SAFETY: an all-zero `tm` is a valid value to be overwritten; localtime_r writes only into
    // the `tm` we pass and reads only `time`, both alive for the call.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&time, &mut tm).is_null() {
            return 0;
        }
        tm.tm_gmtoff
    }
}

/// Makes every file and directory this process and its children create private to the user:
/// the mode bits for group and others are masked off at creation (`umask(2)` is inherited by
/// every child, so git's and codex's files, and those codex's commands write, are covered too).
pub fn private_umask() {
    // SAFETY: umask(2) cannot fail and touches no memory.
    unsafe {
        libc::umask(0o077);
    }
}

/// The effective user id: whose files the server may trust.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// The next run of data in `file` at or after `offset`, as `(start, end)`, skipping holes
/// (`lseek` with `SEEK_DATA`, then `SEEK_HOLE`); `None` when only a hole is left. A file system
/// that cannot say reports the whole rest as data.
pub fn next_data(file: &std::fs::File, offset: u64, len: u64) -> std::io::Result<Option<(u64, u64)>> {
    use std::os::fd::AsRawFd as _;
    if offset >= len {
        return Ok(None);
    }
    let fd = file.as_raw_fd();
    let at = libc::off_t::try_from(offset).map_err(std::io::Error::other)?;
    // SAFETY: lseek(2) on a descriptor `file` keeps open; it has no memory-safety preconditions.
    let start = unsafe { libc::lseek(fd, at, libc::SEEK_DATA) };
    if start < 0 {
        let error = std::io::Error::last_os_error();
        return match error.raw_os_error() {
            Some(libc::ENXIO) => Ok(None),
            Some(libc::EINVAL | libc::EOPNOTSUPP) => Ok(Some((offset, len))),
            _ => Err(error),
        };
    }
    // SAFETY: as above.
    let end = unsafe { libc::lseek(fd, start, libc::SEEK_HOLE) };
    let (start, end) = (start.unsigned_abs(), if end < 0 { len } else { end.unsigned_abs().min(len) });
    Ok((start < end).then_some((start, end)))
}
