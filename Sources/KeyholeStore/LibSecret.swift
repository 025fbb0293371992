internal import CKeyholeSecret
import KeyholeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The libsecret entry points loaded by the C shim, with its status codes turned into ``StoreError``s.
/// Every call blocks; the shim serialises them through one process-wide mutex.
struct LibSecret: @unchecked Sendable {
    /// State of the default collection.
    enum CollectionState: Sendable, Equatable {
        case unlocked
        case locked
        /// The service has no `default` alias yet.
        case missing
    }

    /// Environment variable naming another library to load instead of `libsecret-1.so.0`. Meant for tests
    /// (e.g. a name that does not exist, to exercise the "libsecret missing" path).
    static let libraryOverrideVariable = "KEYHOLE_LIBSECRET"

    /// The shim's loaded library; never freed (glib cannot be unloaded).
    private let handle: OpaquePointer

    private init(handle: OpaquePointer) {
        self.handle = handle
    }

    /// Loads libsecret, or the library named by ``libraryOverrideVariable``.
    static func load(environment: [String: String]) throws -> LibSecret {
        let override = environment[Self.libraryOverrideVariable].flatMap { $0.isEmpty ? nil : $0 }
        var error: UnsafeMutablePointer<CChar>?
        let handle: OpaquePointer? =
            if let override {
                override.withCString { ckh_open($0, &error) }
            } else {
                ckh_open(nil, &error)
            }
        let reason = Self.take(error)
        guard let handle else {
            let why = reason ?? "cannot load it"
            throw StoreError.libsecretMissing.with(message: "libsecret is not installed (\(why))")
        }
        return LibSecret(handle: handle)
    }

    /// Whether `org.freedesktop.secrets` is owned or activatable on the bus at `busAddress`; never takes much
    /// longer than `timeoutMilliseconds`. On `false`, the reason.
    func serviceOffered(busAddress: String, timeoutMilliseconds: Int) -> (offered: Bool, reason: String?) {
        var error: UnsafeMutablePointer<CChar>?
        let offered = busAddress.withCString {
            ckh_service_offered(self.handle, $0, Int32(timeoutMilliseconds), &error)
        }
        let reason = Self.take(error)
        return (offered != 0, offered != 0 ? nil : reason)
    }

    func collectionState(timeoutMilliseconds: Int) throws -> CollectionState {
        var error: UnsafeMutablePointer<CChar>?
        var state = CKH_COLLECTION_LOCKED
        let status = ckh_collection_state(self.handle, &state, Int32(timeoutMilliseconds), &error)
        try Self.check(status, error: error, name: nil)
        switch state {
        case CKH_COLLECTION_UNLOCKED: return .unlocked
        case CKH_COLLECTION_MISSING: return .missing
        default: return .locked
        }
    }

    func unlockDefault(timeoutMilliseconds: Int) throws {
        var error: UnsafeMutablePointer<CChar>?
        let status = ckh_unlock_default(self.handle, Int32(timeoutMilliseconds), &error)
        try Self.check(status, error: error, name: nil)
    }

    func store(name: String, label: String, secret: Secret, timeoutMilliseconds: Int) throws {
        var error: UnsafeMutablePointer<CChar>?
        // Copy the secret into a buffer we can wipe; the C string is only borrowed for the call.
        var bytes = Array(secret.value.utf8CString)
        defer { Self.wipe(&bytes) }
        let status = name.withCString { cName in
            label.withCString { cLabel in
                bytes.withUnsafeBufferPointer { cSecret in
                    ckh_store(self.handle, cName, cLabel, cSecret.baseAddress, Int32(timeoutMilliseconds), &error)
                }
            }
        }
        try Self.check(status, error: error, name: name)
    }

    func lookup(name: String, timeoutMilliseconds: Int) throws -> Secret {
        var error: UnsafeMutablePointer<CChar>?
        var value: UnsafeMutablePointer<CChar>?
        let status = name.withCString { ckh_lookup(self.handle, $0, &value, Int32(timeoutMilliseconds), &error) }
        defer { ckh_free_secret(value) }
        try Self.check(status, error: error, name: name)
        guard let value else {
            throw StoreError.secretServiceFailure.with(message: "the Secret Service returned no value for \(name)")
        }
        return Secret(String(cString: value))
    }

    func clear(name: String, timeoutMilliseconds: Int) throws {
        var error: UnsafeMutablePointer<CChar>?
        let status = name.withCString { ckh_clear(self.handle, $0, Int32(timeoutMilliseconds), &error) }
        try Self.check(status, error: error, name: name)
    }

    /// Frees the shim's message and returns it as a String.
    private static func take(_ message: UnsafeMutablePointer<CChar>?) -> String? {
        guard let message else { return nil }
        defer { ckh_free_message(message) }
        return String(cString: message)
    }

    private static func wipe(_ bytes: inout [CChar]) {
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress {
                explicit_bzero(base, buffer.count)
            }
        }
    }

    private static func check(_ status: ckh_status, error: UnsafeMutablePointer<CChar>?, name: String?) throws {
        let detail = Self.take(error)
        func message(_ fallback: String) -> String {
            guard let detail, !detail.isEmpty else { return fallback }
            return "\(fallback): \(detail)"
        }
        switch status {
        case CKH_OK:
            return
        case CKH_LIBSECRET_MISSING:
            throw StoreError.libsecretMissing.with(message: message("libsecret is not installed"))
        case CKH_NO_PROVIDER:
            throw StoreError.noProvider.with(message: message("no Secret Service provider on the session bus"))
        case CKH_LOCKED:
            throw StoreError.locked
        case CKH_DISMISSED:
            throw StoreError.dismissed.with(message: detail ?? "the keyring prompt was dismissed")
        case CKH_NOT_FOUND:
            let what = name.map { "no secret named \($0) in the keyring" } ?? "not found in the keyring"
            throw StoreError.notFound.with(message: what, hint: name.map { "add it with `keyhole add \($0)`" })
        case CKH_NO_COLLECTION:
            throw StoreError.noCollection.with(message: detail ?? "the keyring has no default collection")
        case CKH_TIMED_OUT:
            throw StoreError.timedOut
        default:
            throw StoreError.secretServiceFailure.with(message: message("the Secret Service failed"))
        }
    }
}
