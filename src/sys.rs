//! The crate's only `unsafe`: signalling process groups and arming the parent-death signal.
//! Kept in one small module so every use is reviewed together.

use std::os::unix::process::CommandExt as _;

/// SIGKILL to every process in group `pgid`. Errors (the group is already gone) are ignored.
pub fn kill_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) has no memory-safety preconditions; a negative pid addresses a group.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
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
