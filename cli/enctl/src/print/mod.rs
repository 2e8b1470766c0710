//! Pure formatting: kubectl's tables and describe blocks, ages and timestamps, resource names,
//! and the JSON / YAML / name output of objects. Nothing here does I/O.

pub mod describe;
pub mod names;
pub mod objects;
pub mod table;
pub mod tabwriter;
pub mod time;
