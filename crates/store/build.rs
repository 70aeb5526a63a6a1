//! `sqlx::migrate!` embeds the migration files at compile time; rebuild when one is added or
//! changed, even if no Rust source changed with it.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
