fn main() {
    afl::fuzz!(|data: &[u8]| balerc_codec::fuzzing::weight_codes(data));
}
