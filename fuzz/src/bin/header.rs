fn main() {
    afl::fuzz!(|data: &[u8]| balerc_codec::fuzzing::header(data));
}
