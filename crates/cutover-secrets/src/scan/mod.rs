//! The secret scanner (being written).
