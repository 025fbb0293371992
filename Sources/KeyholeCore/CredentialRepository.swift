import Foundation

/// Credential definitions on disk: one JSON file per credential in `$XDG_CONFIG_HOME/keyhole/credentials/`.
/// Definitions hold no secret values, but they are still written 0600 in a 0700 directory: which services a
/// user has keys for is nobody else's business.
public struct CredentialRepository: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public func load() throws -> [CredentialDefinition] {
        let manager = FileManager.default
        guard manager.fileExists(atPath: self.directory) else { return [] }
        let names = try manager.contentsOfDirectory(atPath: self.directory).filter { $0.hasSuffix(".json") }.sorted()
        let decoder = JSONDecoder()
        return try names.map { file in
            let path = self.directory + "/" + file
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                return try decoder.decode(CredentialDefinition.self, from: data)
            } catch {
                throw RepositoryError(path: path, problem: "\(error)")
            }
        }
    }

    public func save(_ definition: CredentialDefinition) throws {
        precondition(CredentialDefinition.isValidName(definition.name))
        try FileSystem.makePrivateDirectory(self.directory)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(definition)
        try FileSystem.writeAtomically(Array(data), to: self.path(for: definition.name), mode: 0o600)
    }

    public func delete(_ name: String) throws {
        let path = self.path(for: name)
        if FileManager.default.fileExists(atPath: path) {
            try FileManager.default.removeItem(atPath: path)
        }
    }

    func path(for name: String) -> String {
        self.directory + "/" + name + ".json"
    }
}

public struct RepositoryError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let problem: String

    public var description: String { "cannot read credential definition \(self.path): \(self.problem)" }
}
