#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The process environment as a dictionary, read without Foundation.
public enum ProcessEnvironment {
    public static var current: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let string = String(cString: entry)
            if let equals = string.firstIndex(of: "=") {
                result[String(string[..<equals])] = String(string[string.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}
