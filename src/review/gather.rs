//! Review diff gathering (being written; see the helper brief).
