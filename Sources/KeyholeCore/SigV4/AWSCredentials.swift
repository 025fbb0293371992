import Foundation

/// An AWS access key pair, optionally with a session token (temporary credentials). Its description, debug
/// description and mirror show the access key id only, so printing or dumping it cannot leak a secret.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String?) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// Parses the stored secret JSON `{"AccessKeyId":"…","SecretAccessKey":"…","SessionToken":"…"}` (the shape
    /// of `aws sts` and `credential_process` output). Other keys such as `Version` or `Expiration` are ignored;
    /// a missing, `null` or empty `SessionToken` means none. Errors name the key at fault, never a value.
    public init(json: String) throws(SigV4Error) {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [])
        } catch {
            throw SigV4Error.invalidCredentialJSON("not valid JSON")
        }
        guard let dictionary = object as? [String: Any] else {
            throw SigV4Error.invalidCredentialJSON("not a JSON object")
        }
        guard let accessKeyID = dictionary["AccessKeyId"] as? String, !accessKeyID.isEmpty else {
            throw SigV4Error.invalidCredentialJSON("AccessKeyId is missing, empty or not a string")
        }
        guard let secretAccessKey = dictionary["SecretAccessKey"] as? String, !secretAccessKey.isEmpty else {
            throw SigV4Error.invalidCredentialJSON("SecretAccessKey is missing, empty or not a string")
        }
        var sessionToken: String?
        switch dictionary["SessionToken"] {
        case nil, is NSNull:
            sessionToken = nil
        case let token as String:
            sessionToken = token.isEmpty ? nil : token
        default:
            throw SigV4Error.invalidCredentialJSON("SessionToken is not a string")
        }
        guard Self.isPrintableASCII(accessKeyID) else {
            throw SigV4Error.invalidCredentialJSON("AccessKeyId has characters other than printable ASCII")
        }
        if let token = sessionToken, !Self.isPrintableASCII(token) {
            throw SigV4Error.invalidCredentialJSON("SessionToken has characters other than printable ASCII")
        }
        self.init(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: sessionToken)
    }

    /// The canonical JSON form, keys sorted, `SessionToken` left out when there is none: what is stored.
    public var json: String {
        var members = [
            "\"AccessKeyId\":\(Self.quoted(self.accessKeyID))",
            "\"SecretAccessKey\":\(Self.quoted(self.secretAccessKey))",
        ]
        if let token = self.sessionToken {
            members.append("\"SessionToken\":\(Self.quoted(token))")
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    public var description: String {
        let token = self.sessionToken == nil ? "none" : "<secret>"
        return "AWSCredentials(accessKeyID: \(self.accessKeyID), secretAccessKey: <secret>, sessionToken: \(token))"
    }

    public var debugDescription: String { self.description }

    public var customMirror: Mirror {
        Mirror(self, children: ["accessKeyID": self.accessKeyID, "secrets": "<redacted>"])
    }

    /// A JSON string literal for `value`, escaping quotes, backslashes and control characters.
    private static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Header values and query parameters carry these; anything else could not go on the wire unchanged.
    private static func isPrintableASCII(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }
    }
}
