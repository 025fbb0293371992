@testable import KeyholeCore

/// The files `keyhole import` reads and edits: `.git-credentials`, docker `config.json`, the AWS credentials file.
/// The first byte picks the format; the next one, which found entries to remove.
///
/// Properties: a value or a typed ``ImportFileError``, never a crash; what was found is sane (passwords and hosts
/// non-empty, line numbers inside the file); `removing(…)` entries that were found gives bytes that parse again,
/// hold none of the removed entries and all of the others (same order, same values); every line or byte not
/// removed is kept as it was; for AWS, the other profiles read exactly as before, continuation lines included.
enum ImportersFuzz {
    static let target = FuzzTarget(name: "importers", summary: ".git-credentials, docker config.json, AWS credentials: parse and remove") { raw in
        var input = FuzzBytes(raw)
        let format = input.byte() % 3
        let mask = input.byte()
        let bytes = input.rest()
        switch format {
        case 0: ImportersFuzz.git(bytes, mask: mask)
        case 1: ImportersFuzz.docker(bytes, mask: mask)
        default: ImportersFuzz.aws(bytes, mask: mask)
        }
    }

    /// Whether entry `index` is removed.
    static func chosen(_ index: Int, _ mask: UInt8) -> Bool { mask & (1 << (index % 8)) != 0 }

    static func git(_ bytes: [UInt8], mask: UInt8) {
        let file = GitCredentialsFile(bytes: bytes)
        let lines = TextLine.split(bytes)
        for entry in file.entries {
            FuzzCheck.require((1...lines.count).contains(entry.line), "an entry on line \(entry.line) of \(lines.count)")
            FuzzCheck.require(!entry.password.isEmpty && !entry.host.isEmpty, "an entry without password or host")
            FuzzCheck.require(["http", "https"].contains(entry.scheme), "an entry with scheme \(fuzzShow(entry.scheme))")
        }
        let removed = Set(file.entries.enumerated().filter { Self.chosen($0.offset, mask) }.map(\.element.line))
        let out = file.removing(lines: removed)
        let kept = lines.filter { !removed.contains($0.number) }.flatMap { bytes[$0.range] }
        FuzzCheck.require(out == kept, "removing lines \(removed.sorted()) did not keep exactly the other lines")
        let again = GitCredentialsFile(bytes: out)
        func strip(_ entries: [GitCredentialsFile.Entry]) -> [GitCredentialsFile.Entry] {
            entries.map { var entry = $0; entry.line = 0; return entry }
        }
        FuzzCheck.require(strip(again.entries) == strip(file.entries.filter { !removed.contains($0.line) }), "the file read again has other entries")
        FuzzCheck.require(again.problems.map(\.reason) == file.problems.filter { !removed.contains($0.line) }.map(\.reason), "the file read again has other problems")
    }

    static func docker(_ bytes: [UInt8], mask: UInt8) {
        let file: DockerConfigFile
        do {
            file = try DockerConfigFile(bytes: bytes)
        } catch {
            return
        }
        for entry in file.entries {
            FuzzCheck.require(!entry.password.isEmpty, "an entry without a password")
        }
        let registries = file.entries.map(\.registry) + file.problems.map(\.registry)
        let removed = Set(registries.enumerated().filter { Self.chosen($0.offset, mask) }.map(\.element))
        let out = file.removing(registries: removed)
        let again: DockerConfigFile
        do {
            again = try DockerConfigFile(bytes: out)
        } catch {
            FuzzCheck.fail("removing \(removed.count) registries gave a file that does not parse: \(error)")
        }
        FuzzCheck.require(again.entries == file.entries.filter { !removed.contains($0.registry) }, "the file read again has other entries")
        FuzzCheck.require(again.problems == file.problems.filter { !removed.contains($0.registry) }, "the file read again has other problems")
        FuzzCheck.require(Self.isSubsequence(out, of: bytes), "removing entries did more than delete bytes")
        if removed.isEmpty { FuzzCheck.require(out == bytes, "removing nothing changed the file") }
    }

    static func aws(_ bytes: [UInt8], mask: UInt8) {
        let file = AWSCredentialsFile(bytes: bytes)
        let lineCount = TextLine.split(bytes).count
        let profiles = file.profileNames.compactMap { try? file.profile($0) }
        for profile in profiles {
            FuzzCheck.require(profile.credentialLines.allSatisfy { (1...lineCount).contains($0) }, "key lines outside the file")
            FuzzCheck.require(!profile.credentials.accessKeyID.isEmpty && !profile.credentials.secretAccessKey.isEmpty, "a profile with an empty key")
        }
        guard let profile = profiles.enumerated().first(where: { Self.chosen($0.offset, mask) })?.element else { return }
        let out = file.removing(profile)
        var removedLines = profile.credentialLines
        if let header = profile.headerLineIfOnlyKeys { removedLines.insert(header) }
        let lines = TextLine.split(bytes)
        FuzzCheck.require(out == lines.filter { !removedLines.contains($0.number) }.flatMap { bytes[$0.range] }, "removing a profile did not keep the other lines")
        let again = AWSCredentialsFile(bytes: out)
        let after = try? again.profile(profile.name)
        FuzzCheck.require(after == nil, "profile [\(fuzzShow(profile.name))] still has its keys after removal")
        // Every other section, and what is left of this one, reads as before (continuation lines included).
        func settings(_ document: AWSINIDocument, removing name: String?) -> [[String]] {
            document.sections.filter { $0.name != name || profile.headerLineIfOnlyKeys == nil }.map { section in
                ["[\(section.name)]"] + section.settings.filter { section.name != name || !AWSCredentialsFile.credentialKeys.contains($0.key) }
                    .map { setting in setting.key + "=" + setting.lines.map(document.text(of:)).joined(separator: "\n") }
            }
        }
        FuzzCheck.require(settings(AWSINIDocument(bytes: out), removing: nil) == settings(AWSINIDocument(bytes: bytes), removing: profile.name),
            "removing [\(fuzzShow(profile.name))] changed how the rest of the file reads")
    }

    /// Whether `small` is `large` with some bytes deleted.
    static func isSubsequence(_ small: [UInt8], of large: [UInt8]) -> Bool {
        var iterator = large.makeIterator()
        return small.allSatisfy { byte in
            while let next = iterator.next() { if next == byte { return true } }
            return false
        }
    }
}
