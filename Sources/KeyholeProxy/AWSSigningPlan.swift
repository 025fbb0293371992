import Foundation
import KeyholeCore
import NIOHTTP1

/// What the proxy does with a request that carries an AWS SigV4 signature made with one of the session's
/// placeholder keys: refuse it (wrong host, SigV4A, body too large to hash) or verify and re-sign it with the real
/// keys. Requests signed with any other key id are not keyhole's business and follow the generic rules.
enum AWSSigningPlan {
    /// No SigV4 signature with a placeholder key of this session.
    case notSigned
    case refuse(Refusal)
    case resign(AWSResigning)

    struct Refusal {
        let status: HTTPResponseStatus
        let decision: AuditDecision
        let credential: String?
        let message: String
        let reason: String
    }

    /// The largest body the proxy hashes for a request that does not declare its payload hash
    /// (`x-amz-content-sha256`). SDKs declare it for S3 uploads; other services' bodies are small.
    static let bodyHashLimit = 16 * 1024 * 1024

    static func make(
        for head: RequestHead, session: ProxySession, authority: Authority, cleartext: Bool
    ) -> AWSSigningPlan {
        guard !session.awsKeys.isEmpty else { return .notSigned }
        switch SigV4Authorization.detect(in: head) {
        case .none:
            return .notSigned
        case .malformed(let reason):
            guard let key = self.placeholderKey(mentionedIn: head, session: session) else { return .notSigned }
            return .refuse(
                Refusal(
                    status: .badRequest, decision: .error, credential: key.credential,
                    message: "keyhole: the AWS signature of this request cannot be parsed (\(reason)); nothing was sent.",
                    reason: "malformed SigV4: \(reason)"
                )
            )
        case .sigV4A(let accessKeyID):
            let key = accessKeyID.flatMap { session.awsKeys[$0] } ?? self.placeholderKey(mentionedIn: head, session: session)
            guard let key else { return .notSigned }
            return .refuse(
                Refusal(
                    status: .badRequest, decision: .error, credential: key.credential,
                    message: "keyhole: SigV4A (AWS4-ECDSA-P256-SHA256) signatures cannot be re-signed, so this request "
                        + "was not sent. Use a regional endpoint instead of a multi-Region access point or global "
                        + "endpoint that needs SigV4A.",
                    reason: "SigV4A refused"
                )
            )
        case .sigV4(let authorization):
            guard let key = session.awsKeys[authorization.accessKeyID] else { return .notSigned }
            guard let credential = session.credentials.first(where: { $0.name == key.credential }),
                credential.isScoped(to: authority)
            else {
                return .refuse(
                    Refusal(
                        status: .forbidden, decision: .denyScope, credential: key.credential,
                        message: "keyhole: credential '\(key.credential)' is not allowed for host \(authority); "
                            + "nothing was sent. Its hosts are shown by `keyhole list`.",
                        reason: "credential not scoped to host"
                    )
                )
            }
            guard credential.mayTravel(cleartext: cleartext) else {
                return .refuse(
                    Refusal(
                        status: .forbidden, decision: .denyCleartext, credential: key.credential,
                        message: Refusals.cleartext(credential: key.credential, authority: authority),
                        reason: Refusals.cleartextReason
                    )
                )
            }
            let mode = SigV4PayloadMode.of(head, authorization: authorization)
            if mode == .bodyHash, let length = head.contentLength, length > self.bodyHashLimit {
                return .refuse(self.bodyTooLarge(credential: key.credential))
            }
            return .resign(AWSResigning(key: key, authorization: authorization, mode: mode, bodyIsEmpty: head.hasNoBody))
        }
    }

    static func bodyTooLarge(credential: String) -> Refusal {
        Refusal(
            status: .payloadTooLarge, decision: .error, credential: credential,
            message: "keyhole: to re-sign this AWS request the proxy must hash its body, which is larger than "
                + "\(Self.bodyHashLimit / (1024 * 1024)) MiB; nothing was sent. Send x-amz-content-sha256 "
                + "(S3 clients do), or a smaller body.",
            reason: "body too large to hash"
        )
    }

    /// A placeholder access key id of the session anywhere in the Authorization header or the target.
    private static func placeholderKey(mentionedIn head: RequestHead, session: ProxySession) -> AWSSessionKey? {
        let texts = [head.target] + head.headers.filter { $0.name.lowercased() == "authorization" }.map(\.value)
        for (id, key) in session.awsKeys where texts.contains(where: { $0.contains(id) }) {
            return key
        }
        return nil
    }
}

/// A request to verify with the placeholder keys and re-sign with the real ones.
struct AWSResigning {
    let key: AWSSessionKey
    let authorization: SigV4Authorization
    let mode: SigV4PayloadMode
    let bodyIsEmpty: Bool

    /// Whether the proxy must read the whole body to hash it before anything goes upstream.
    var needsBodyHash: Bool { self.mode == .bodyHash }

    /// Verifies the placeholder signature and signs with the real keys.
    func resign(_ head: RequestHead, real: AWSCredentials, bodyHash: String?) throws(SigV4Error) -> SigV4Resigned {
        var hash = bodyHash
        if hash == nil, self.mode == .presigned, self.bodyIsEmpty {
            hash = SigV4Resigner.emptyPayloadHash
        }
        return try SigV4Resigner(placeholder: self.key.placeholder, real: real)
            .resign(head, authorization: self.authorization, bodyHash: hash)
    }
}

extension RequestHead {
    /// The declared Content-Length, if any.
    var contentLength: Int? {
        self.headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value.trimmingCharacters(in: .whitespaces)) }
    }

    /// No Content-Length (or 0) and no Transfer-Encoding: the request has no body.
    var hasNoBody: Bool {
        !self.contains(header: "transfer-encoding") && (self.contentLength ?? 0) == 0
    }
}
