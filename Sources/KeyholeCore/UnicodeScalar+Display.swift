extension Unicode.Scalar {
    /// True for the characters a terminal (or a JSON reader that prints strings) would act on instead of
    /// showing: C0 controls, DEL, C1 controls (U+0080–U+009F, among them U+009B, the one-byte CSI), the line
    /// and paragraph separators U+2028/U+2029, and the bidi controls that reorder what follows them (the
    /// marks U+200E, U+200F, U+061C, the embeddings and overrides U+202A–U+202E, the isolates
    /// U+2066–U+2069). Text from a request (a path, a host) is shown or written without them.
    var isUnsafeToDisplay: Bool {
        switch self.value {
        case 0x00..<0x20, 0x7F...0x9F: return true
        case 0x061C, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
}
