import ArgumentParser

/// `--remove` and `--backup` of the importers that read a plaintext file.
struct ImportRemovalOptions: ParsableArguments {
    @Flag(help: "After the import, delete exactly the imported entries from the file; the rest stays byte for byte.")
    var remove = false

    @Flag(help: "With --remove: first keep a copy of the original file beside it (FILE.keyhole-backup, mode 0600).")
    var backup = false

    func validate() throws {
        if self.backup && !self.remove {
            throw ValidationError("--backup only goes with --remove (without --remove the file is not changed)")
        }
    }
}
