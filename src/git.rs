//! Hardened git runner (being written; see the helper brief).
