fn main() {
    afl::fuzz!(|data: &[u8]| balerc_codec::fuzzing::residual_plan(data));
}
