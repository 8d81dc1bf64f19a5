fn main() {
    let path = std::env::args().nth(1).unwrap();
    match balerc_compiler::frontend::load(std::path::Path::new(&path)) {
        Ok(g) => print!("{g}"),
        Err(e) => println!("ERR {e}"),
    }
}
