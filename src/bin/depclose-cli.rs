//! depclose-cli (placeholder: being written).
fn main() {}
