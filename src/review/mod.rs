//! Code review: gathering the diff, redacting and bounding it, and the honest verdict.

pub mod gather;
