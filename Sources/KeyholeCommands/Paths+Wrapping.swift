import KeyholeCore

extension Paths {
    /// Where `keyhole wrap` writes its wrappers: the directory the shell integration puts first on PATH.
    var wrapperDirectory: String { self.dataDirectory + "/bin" }

    /// The names of the wrapped commands, one a line, read by the shell integration to define its functions.
    var wrappedListFile: String { self.configDirectory + "/wrapped" }
}
