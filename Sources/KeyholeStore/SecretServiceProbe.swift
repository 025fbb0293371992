#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Decides quickly whether the session bus offers `org.freedesktop.secrets`: libsecret loads, a session bus
/// address is known (never autolaunched), and a private connection to it answers NameHasOwner or
/// ListActivatableNames before the deadline.
enum SecretServiceProbe {
    /// Deadline for the whole probe (connect, authenticate, two calls).
    static let timeoutMilliseconds = 500

    /// libsecret, loaded, when the Secret Service is offered; otherwise why not.
    static func run(environment: [String: String], timeoutMilliseconds: Int = Self.timeoutMilliseconds)
        -> Result<LibSecret, StoreError>
    {
        let library: LibSecret
        do {
            library = try LibSecret.load(environment: environment)
        } catch let error as StoreError {
            return .failure(error)
        } catch {
            return .failure(StoreError.libsecretMissing)
        }
        guard let address = Self.busAddress(environment: environment) else {
            return .failure(
                StoreError.noProvider.with(
                    message: "no session bus (DBUS_SESSION_BUS_ADDRESS is not set and there is no $XDG_RUNTIME_DIR/bus)"
                )
            )
        }
        let (offered, reason) = library.serviceOffered(busAddress: address, timeoutMilliseconds: timeoutMilliseconds)
        guard offered else {
            let detail = reason.map { ": \($0)" } ?? ""
            return .failure(StoreError.noProvider.with(message: "no Secret Service on the session bus\(detail)"))
        }
        return .success(library)
    }

    /// The session bus address as libdbus and gio find it, minus autolaunch: `DBUS_SESSION_BUS_ADDRESS`, else
    /// the systemd user bus socket `$XDG_RUNTIME_DIR/bus` when it exists.
    static func busAddress(environment: [String: String]) -> String? {
        if let address = environment["DBUS_SESSION_BUS_ADDRESS"], !address.isEmpty {
            return address
        }
        guard let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") else { return nil }
        let socket = runtime + "/bus"
        var info = stat()
        guard stat(socket, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else { return nil }
        return "unix:path=" + Self.escape(socket)
    }

    /// D-Bus address escaping: bytes outside `[-0-9A-Za-z_/.\*]` become `%XX`.
    private static func escape(_ value: String) -> String {
        var result = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "/"),
                UInt8(ascii: "."), UInt8(ascii: "\\"), UInt8(ascii: "*"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789abcdef".unicodeScalars)
                result.unicodeScalars.append("%")
                result.unicodeScalars.append(hex[Int(byte >> 4)])
                result.unicodeScalars.append(hex[Int(byte & 0x0f)])
            }
        }
        return result
    }
}
