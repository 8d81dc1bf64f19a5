fn main() {
    afl::fuzz!(|data: &[u8]| balerc_codec::fuzzing::packed_decoder(data));
}
