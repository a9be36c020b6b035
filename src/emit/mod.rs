//! Writers for what users ship (placeholder: being written).
