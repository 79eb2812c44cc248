//! Secret redaction (being written; see the helper brief).
